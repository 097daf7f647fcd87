//! Uploads and downloads over real HTTP: content sniffing, deduplication,
//! image variants per mode, ranges, caching, access, limits.

mod support;

use reqwest::multipart::{Form, Part};
use support::{Api, TestServer, User};

/// A PNG of the given size with a left-to-right gradient.
fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, _| {
        image::Rgb([(x * 255 / width.max(1)) as u8, 80, 160])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn upload(
    api: &Api,
    user: &User,
    bytes: Vec<u8>,
    name: &str,
    declared: &str,
) -> reqwest::Response {
    let part = Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(declared)
        .unwrap();
    api.client
        .post(format!("{}/api/files", api.base))
        .bearer_auth(&user.token)
        .multipart(Form::new().text("caption", "hi").part("file", part))
        .send()
        .await
        .unwrap()
}

async fn fetch(api: &Api, user: &User, path: &str) -> reqwest::Response {
    api.client
        .get(format!("{}{}", api.base, path))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap()
}

async fn image_size(resp: reqwest::Response) -> (u32, u32) {
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.unwrap();
    let img = image::load_from_memory(&bytes).expect("a decodable image");
    (img.width(), img.height())
}

#[tokio::test]
async fn upload_sniffs_dedups_and_serves_with_safe_headers() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bytes = png(200, 100);

    // The name and declared type lie; the bytes decide.
    let resp = upload(&api, &alice, bytes.clone(), "report.exe", "text/html").await;
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let body: serde_json::Value = resp.json().await.unwrap();
    let file = &body["data"];
    assert_eq!(file["contentType"], "image/png");
    assert_eq!(
        (file["width"].as_u64(), file["height"].as_u64()),
        (Some(200), Some(100))
    );
    assert_eq!(file["size"], bytes.len());
    assert_eq!(file["name"], "report.exe");
    assert_eq!(location, format!("/api/files/{}", file["id"]));

    // The same bytes again: the first upload, not a second copy.
    let again = upload(&api, &alice, bytes.clone(), "copy.png", "image/png").await;
    assert_eq!(again.status(), 200);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["data"]["id"], file["id"]);
    let blob_dir = server
        .data_dir
        .join("files")
        .join(&file["sha256"].as_str().unwrap()[..2]);
    assert_eq!(
        std::fs::read_dir(&blob_dir).unwrap().count(),
        1,
        "one blob on disk"
    );

    let resp = fetch(&api, &alice, &location).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["accept-ranges"], "bytes");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline; filename=\"report.exe\""));
    assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let resp = fetch(&api, &alice, &format!("{location}?download=true")).await;
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));

    // Text is not an image, whatever its name says.
    let resp = upload(
        &api,
        &alice,
        b"just words".to_vec(),
        "photo.png",
        "image/png",
    )
    .await;
    assert_eq!(resp.status(), 201);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["contentType"], "application/octet-stream");
    assert!(body["data"].get("width").is_none());
    let text = format!("/api/files/{}?w=10", body["data"]["id"]);
    let resp = fetch(&api, &alice, &text).await;
    assert_eq!(resp.status(), 422, "variants are for images only");
}

#[tokio::test]
async fn image_variants_follow_each_mode_and_never_upscale() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let resp = upload(&api, &alice, png(200, 100), "wide.png", "image/png").await;
    let body: serde_json::Value = resp.json().await.unwrap();
    let path = format!("/api/files/{}", body["data"]["id"]);

    for (query, expected) in [
        ("w=50", (50, 25)),
        ("h=25", (50, 25)),
        ("w=100&h=100", (100, 50)),
        ("w=100&h=100&mode=resize", (100, 50)),
        ("w=400", (200, 100)),
        ("w=30&h=40&mode=crop", (30, 40)),
        ("w=300&h=300&mode=crop", (200, 100)),
        ("w=150&h=100&mode=fit", (150, 100)),
        ("w=50&h=50&mode=fit", (50, 50)),
        ("w=400&h=200&mode=fit", (200, 100)),
        ("w=80&mode=fit", (80, 40)),
    ] {
        let size = image_size(fetch(&api, &alice, &format!("{path}?{query}")).await).await;
        assert_eq!(size, expected, "{query}");
        // The cached variant is served the same the second time.
        let size = image_size(fetch(&api, &alice, &format!("{path}?{query}")).await).await;
        assert_eq!(size, expected, "{query} (cached)");
    }

    // A crop takes the centre: the gradient's middle column survives.
    let resp = fetch(&api, &alice, &format!("{path}?w=2&h=2&mode=crop")).await;
    let img = image::load_from_memory(&resp.bytes().await.unwrap())
        .unwrap()
        .to_rgb8();
    let red = img.get_pixel(0, 0)[0];
    assert!((120..=135).contains(&red), "centre column, got red={red}");

    for query in [
        "w=10&mode=crop",
        "h=10&mode=fit",
        "mode=stretch&w=5",
        "w=0",
        "w=100000",
    ] {
        let resp = fetch(&api, &alice, &format!("{path}?{query}")).await;
        assert_eq!(resp.status(), 422, "{query}");
    }
    let resp = fetch(&api, &alice, &format!("{path}?w=abc")).await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn ranges_etags_and_access() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let bytes = png(64, 64);
    let resp = upload(&api, &alice, bytes.clone(), "a.png", "image/png").await;
    let body: serde_json::Value = resp.json().await.unwrap();
    let path = format!("/api/files/{}", body["data"]["id"]);

    let resp = api
        .client
        .get(format!("{}{path}", api.base))
        .bearer_auth(&alice.token)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes 0-9/{}", bytes.len()).as_str()
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &bytes[..10]);

    let resp = api
        .client
        .get(format!("{}{path}", api.base))
        .bearer_auth(&alice.token)
        .header("range", format!("bytes={}-", bytes.len() + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes */{}", bytes.len()).as_str()
    );

    let first = fetch(&api, &alice, &path).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let resp = api
        .client
        .get(format!("{}{path}", api.base))
        .bearer_auth(&alice.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    assert!(resp.bytes().await.unwrap().is_empty());

    // Someone else's file does not exist for them; nobody's without a token.
    assert_eq!(fetch(&api, &bob, &path).await.status(), 404);
    let resp = api
        .client
        .get(format!("{}{path}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(fetch(&api, &alice, "/api/files/999999").await.status(), 404);
}

#[tokio::test]
async fn limits_and_malformed_uploads_store_nothing() {
    let server = TestServer::start_with(&["--max-upload-bytes", "4096"]);
    let api = Api::new(&server);
    let alice = api.user("alice").await;

    let resp = upload(
        &api,
        &alice,
        vec![7u8; 10_000],
        "big.bin",
        "application/octet-stream",
    )
    .await;
    assert_eq!(resp.status(), 413);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");

    let resp = api
        .client
        .post(format!("{}/api/files", api.base))
        .bearer_auth(&alice.token)
        .json(&serde_json::json!({"file": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);

    let resp = api
        .client
        .post(format!("{}/api/files", api.base))
        .bearer_auth(&alice.token)
        .multipart(Form::new().text("caption", "no file here"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);

    // A PNG header on bytes that are not an image.
    let mut fake = png(4, 4)[..16].to_vec();
    fake.extend_from_slice(&[0u8; 64]);
    let resp = upload(&api, &alice, fake, "broken.png", "image/png").await;
    assert_eq!(resp.status(), 422);

    let resp = api
        .client
        .post(format!("{}/api/files", api.base))
        .multipart(Form::new().part("file", Part::bytes(vec![1, 2, 3])))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let files = server.data_dir.join("files");
    let blobs: Vec<_> = walk(&files)
        .into_iter()
        .filter(|p| !p.starts_with(files.join("tmp")))
        .collect();
    assert!(blobs.is_empty(), "nothing stored: {blobs:?}");
    let leftovers = walk(&files.join("tmp"));
    assert!(
        leftovers.is_empty(),
        "no temporary files left: {leftovers:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk(&p)
            } else {
                vec![p]
            }
        })
        .collect()
}

#[tokio::test]
async fn a_file_posted_in_a_room_is_readable_by_its_members_only() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let bob = api.user("bob").await;
    let carol = api.user("carol").await;
    let room = api.room(&alice, &[&bob]).await;
    let resp = upload(&api, &alice, png(40, 20), "cat.png", "image/png").await;
    let body: serde_json::Value = resp.json().await.unwrap();
    let file_id = body["data"]["id"].as_i64().unwrap();
    let path = format!("/api/files/{file_id}");

    // Not posted yet: only Alice can read it, and nobody else may post it.
    assert_eq!(fetch(&api, &bob, &path).await.status(), 404);
    let (status, body) = api
        .post(
            &format!("/api/rooms/{}/messages", api.room(&carol, &[&bob]).await),
            &carol.token,
            serde_json::json!({"fileId": file_id}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["name"], "fileId");

    // Posted without a caption or type: an image message named after the file.
    let (status, body) = api
        .post(
            &format!("/api/rooms/{room}/messages"),
            &alice.token,
            serde_json::json!({"fileId": file_id}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["type"], "image");
    assert_eq!(body["data"]["fileId"], file_id);
    assert_eq!(body["data"]["content"], "cat.png");
    let message_id = body["data"]["messageId"].as_str().unwrap().to_owned();
    let history = api.history(&bob, room).await;
    assert_eq!(history[0]["fileId"], file_id);

    assert_eq!(
        image_size(fetch(&api, &bob, &format!("{path}?w=20")).await).await,
        (20, 10)
    );
    assert_eq!(
        fetch(&api, &carol, &path).await.status(),
        404,
        "not in the room"
    );

    // A text file cannot pass for an image.
    let resp = upload(&api, &alice, b"notes".to_vec(), "notes.txt", "text/plain").await;
    let text: serde_json::Value = resp.json().await.unwrap();
    let (status, _) = api
        .post(
            &format!("/api/rooms/{room}/messages"),
            &alice.token,
            serde_json::json!({"fileId": text["data"]["id"], "type": "image", "content": "x"}),
        )
        .await;
    assert_eq!(status, 422);

    // Deleted for everyone: the file is the uploader's alone again.
    let (status, _) = api
        .call(
            "DELETE",
            &format!("/api/rooms/{room}/messages/{message_id}"),
            Some(&alice.token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(fetch(&api, &bob, &path).await.status(), 404);
    assert_eq!(fetch(&api, &alice, &path).await.status(), 200);
}

#[tokio::test]
async fn markup_is_never_served_as_a_page() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let page = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    let resp = upload(&api, &alice, page, "page.html", "text/html").await;
    assert_eq!(resp.status(), 201);
    let body: serde_json::Value = resp.json().await.unwrap();
    let resp = fetch(&api, &alice, &format!("/api/files/{}", body["data"]["id"])).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(h["content-security-policy"], "sandbox; default-src 'none'");
    assert_eq!(h["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn variants_past_the_cache_cap_are_served_but_not_kept() {
    let server = TestServer::start();
    let api = Api::new(&server);
    let alice = api.user("alice").await;
    let resp = upload(&api, &alice, png(64, 32), "w.png", "image/png").await;
    let body: serde_json::Value = resp.json().await.unwrap();
    let path = format!("/api/files/{}", body["data"]["id"]);
    let sha = body["data"]["sha256"].as_str().unwrap().to_owned();
    for w in 1..=24u32 {
        let size = image_size(fetch(&api, &alice, &format!("{path}?w={w}")).await).await;
        assert_eq!(size.0, w);
    }
    let cached = walk(&server.data_dir.join("files/variants").join(&sha)).len();
    assert_eq!(cached, 16, "at most 16 cached variants per image");
    let leftovers = walk(&server.data_dir.join("files/tmp"));
    assert!(
        leftovers.is_empty(),
        "one-off variants are removed: {leftovers:?}"
    );
}
