//! Contacts over real HTTP: who my contacts are (direct rooms and numbers I
//! added), noisy and best contacts, per-contact analysis and the chart.

mod support;

use serde_json::{json, Value};
use support::{assert_bad_query, phone_user, with_query, Api, TestServer, User};

const BOB_PHONE: &str = "+14155552671";
const EVE_PHONE: &str = "+447911123456";

async fn send(api: &Api, user: &User, room: i64, kind: &str, n: usize) {
    for i in 0..n {
        let (status, body) = api
            .post(
                &format!("/api/rooms/{room}/messages"),
                &user.token,
                json!({"content": format!("{kind} {i}"), "type": kind}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn contacts_rankings_analysis_and_chart() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = phone_user(&server, &api, BOB_PHONE).await;
    let carol = api.user("carol").await;
    let dave = api.user("dave").await;
    let eve = phone_user(&server, &api, EVE_PHONE).await;

    let with_bob = api.direct(&alice, &bob).await;
    let with_carol = api.direct(&alice, &carol).await;
    // Sharing only a group room makes nobody a contact.
    let group = api.room(&alice, &[&dave]).await;
    send(&api, &dave, group, "text", 3).await;

    send(&api, &bob, with_bob, "text", 5).await;
    send(&api, &bob, with_bob, "image", 1).await;
    send(&api, &alice, with_bob, "text", 1).await;
    send(&api, &carol, with_carol, "text", 3).await;
    send(&api, &carol, with_carol, "link", 2).await;
    send(&api, &alice, with_carol, "text", 3).await;

    let (status, body) = api.get("/api/contacts", &alice.token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body["data"]), [bob.id, carol.id]);
    assert_eq!(body["meta"]["pagination"]["total"], 2);
    assert_eq!(body["data"][0]["directRoomId"], with_bob);
    assert!(
        body["data"][0]["phone"].is_null(),
        "a number I never gave stays hidden"
    );

    // Adding by number: one bad number refuses the whole request.
    let (status, body) = api
        .post(
            "/api/contacts",
            &alice.token,
            json!({"phones": ["+1 415 555 2671", "not a number"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["name"], "phones[1]");
    let (status, body) = api
        .post(
            "/api/contacts",
            &alice.token,
            json!({"phones": ["+1 415 555 2671", EVE_PHONE, "+33612345678"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let found = body["data"].as_array().unwrap();
    assert_eq!(found[0]["phone"], BOB_PHONE);
    assert_eq!(found[0]["isUser"], true);
    assert_eq!(found[0]["user"]["id"], bob.id);
    assert_eq!(found[1]["user"]["id"], eve.id);
    assert_eq!(found[2]["isUser"], false);
    assert!(found[2]["user"].is_null());

    let (_, body) = api
        .get("/api/contacts?limit=2&offset=1", &alice.token)
        .await;
    assert_eq!(ids(&body["data"]), [carol.id, eve.id]);
    assert_eq!(body["meta"]["pagination"]["total"], 3);
    assert_eq!(body["meta"]["count"], 2);
    assert!(body["data"][1]["directRoomId"].is_null());
    assert_eq!(
        body["data"][1]["phone"], EVE_PHONE,
        "added by number: shown"
    );
    let (status, _) = api.get("/api/contacts?limit=0", &alice.token).await;
    assert_eq!(status, 422);
    let (status, _) = api.get("/api/contacts?sort=x", &alice.token).await;
    assert_eq!(status, 400);

    // Bob writes 6 and hears 1 back; Carol writes 5 and hears 3.
    let (status, body) = api.get("/api/contacts/noisy", &alice.token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body["data"]), [bob.id, carol.id], "eve never wrote");
    assert_eq!(body["data"][0]["received"], 6);
    assert_eq!(body["data"][0]["sent"], 1);
    assert_eq!(body["data"][0]["score"], 3.0);

    // Carol: min(3, 5) + 2 × 2 links = 7; Bob: min(1, 6) + 2 × 1 image = 3.
    let (_, body) = api.get("/api/contacts/best", &alice.token).await;
    assert_eq!(ids(&body["data"]), [carol.id, bob.id]);
    assert_eq!(body["data"][0]["score"], 7.0);
    assert_eq!(body["data"][1]["score"], 3.0);

    let (status, body) = api
        .get(&format!("/api/contacts/{}/analysis", bob.id), &alice.token)
        .await;
    assert_eq!(status, 200, "{body}");
    let a = &body["data"];
    assert_eq!(a["contact"]["id"], bob.id);
    assert_eq!(a["resources"]["text"], json!({"sent": 1, "received": 5}));
    assert_eq!(a["resources"]["image"], json!({"sent": 0, "received": 1}));
    assert_eq!(a["resources"]["voice"], json!({"sent": 0, "received": 0}));
    assert_eq!(a["resources"].as_object().unwrap().len(), 7);
    assert_eq!(a["conversations"], 1, "all within a few seconds");
    let minutes = a["conversationMinutes"].as_f64().unwrap();
    assert!((1.0..1.5).contains(&minutes), "{minutes}");
    assert!(a["method"].as_str().unwrap().contains("5 minutes"));

    let (status, body) = api
        .get(&format!("/api/contacts/{}/chart", bob.id), &alice.token)
        .await;
    assert_eq!(status, 200, "{body}");
    let days = body["data"]["days"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    assert_eq!(days[13]["daysAgo"], 0);
    assert_eq!(days[13]["messages"], 7);
    assert!(days[..13]
        .iter()
        .all(|d| d["messages"] == 0 && d["minutes"] == 0.0));
    let dates: Vec<&str> = days.iter().map(|d| d["date"].as_str().unwrap()).collect();
    let mut sorted = dates.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, dates, "14 distinct days, oldest first");

    // Only contacts can be analysed; an id that is no contact is 404.
    for path in [
        format!("/api/contacts/{}/analysis", dave.id),
        format!("/api/contacts/{}/chart", dave.id),
        "/api/contacts/999999/analysis".to_owned(),
        "/api/contacts/abc/chart".to_owned(),
    ] {
        let (status, _) = api.get(&path, &alice.token).await;
        assert_eq!(status, 404, "{path}");
    }
    // Contacts are per person: Carol sees only Alice.
    let (_, body) = api.get("/api/contacts", &carol.token).await;
    assert_eq!(ids(&body["data"]), [alice.id]);
    let (status, _) = api.call("GET", "/api/contacts", None, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn contacts_query_narrows_and_counts_matches() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let eve = phone_user(&server, &api, EVE_PHONE).await;
    // Shares only a group room with alice: never a contact, whatever the filter.
    let dave = api.user("dave").await;
    api.room(&alice, &[&dave]).await;
    let with_bob = api.direct(&alice, &bob).await;
    let with_carol = api.direct(&alice, &carol).await;
    let (status, body) = api
        .post(
            "/api/contacts",
            &alice.token,
            json!({"phones": [EVE_PHONE]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let cases: Vec<(String, Vec<i64>)> = vec![
        ("addedByPhone = true".into(), vec![eve.id]),
        ("addedByPhone = false".into(), vec![bob.id, carol.id]),
        ("directRoomId IS NULL".into(), vec![eve.id]),
        (format!("directRoomId = {with_bob}"), vec![bob.id]),
        (
            "login IN ('bob', 'carol', 'dave')".into(),
            vec![bob.id, carol.id],
        ),
        (
            "name LIKE 'c%' OR addedByPhone = true".into(),
            vec![carol.id, eve.id],
        ),
        (
            format!("id <> {} AND createdAt > '2000-01-01T00:00:00Z'", bob.id),
            vec![carol.id, eve.id],
        ),
        ("avatar IS NOT NULL".into(), vec![]),
    ];
    for (q, want) in cases {
        let (status, body) = api
            .get(&with_query("/api/contacts", &q, ""), &alice.token)
            .await;
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(ids(&body["data"]), want, "{q}");
        assert_eq!(body["meta"]["count"], want.len(), "{q}");
        assert_eq!(body["meta"]["pagination"]["total"], want.len(), "{q}");
    }
    // A page of the matches; the total still counts them all.
    let (_, body) = api
        .get(
            &with_query("/api/contacts", "id > 0", "limit=1&offset=1"),
            &alice.token,
        )
        .await;
    assert_eq!(ids(&body["data"]), [carol.id]);
    assert_eq!(body["meta"]["pagination"]["total"], 3);
    assert_eq!(body["meta"]["pagination"]["perPage"], 1);

    for (q, reason) in [
        // A contact's number is shown only when added by it: no probing.
        ("phone LIKE '+44%'", "unknown field `phone`; allowed fields: id, login, name, avatar, createdAt, addedByPhone, directRoomId"),
        ("password_hash = 'x'", "unknown field `password_hash`"),
        ("1=1; DELETE FROM contacts", "';' is not allowed"),
        ("id IN (SELECT contact_id FROM contacts)", "subqueries are not allowed"),
        ("login = 'x' OR 1 = 1", "expected a field name"),
        ("addedByPhone = 'yes'", "field `addedByPhone` expects true or false"),
    ] {
        let (status, body) = api
            .get(&with_query("/api/contacts", q, ""), &alice.token)
            .await;
        assert_bad_query(status, &body, q, reason);
    }
    // The rankings take the same filter.
    send(&api, &bob, with_bob, "text", 2).await;
    send(&api, &carol, with_carol, "text", 1).await;
    let (_, body) = api.get("/api/contacts/noisy", &alice.token).await;
    assert_eq!(ids(&body["data"]), [bob.id, carol.id]);
    let (status, body) = api
        .get(
            &with_query("/api/contacts/noisy", "login <> 'bob'", ""),
            &alice.token,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body["data"]), [carol.id]);
    assert_eq!(body["meta"]["pagination"]["total"], 1);
    let (status, body) = api
        .get(
            &with_query("/api/contacts/best", "phone = 'x'", ""),
            &alice.token,
        )
        .await;
    assert_bad_query(status, &body, "phone = 'x'", "unknown field `phone`");

    let (_, body) = api.get("/api/contacts", &alice.token).await;
    assert_eq!(
        ids(&body["data"]),
        [bob.id, carol.id, eve.id],
        "nothing changed"
    );
}
