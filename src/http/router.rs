//! Paths to handlers. Each route lists its methods; a known path with
//! another method is 405 with `Allow`.

use super::context::Ctx;
use super::response::Reply;
use super::{admin, auth, events, files, health, messages, phone, rooms, sessions, users};
use crate::error::{Error, Result};
use hyper::Method;

#[derive(Debug, Clone, Copy)]
pub enum Route {
    Health,
    Users,
    User,
    Me,
    MyPassword,
    Login,
    PhoneCode,
    PhoneVerify,
    Logout,
    LogoutAll,
    Sessions,
    Session,
    Rooms,
    PublicRooms,
    Room,
    Participants,
    Participant,
    Messages,
    Seen,
    Events,
    AdminLogin,
    AdminLogout,
    AdminStats,
    Files,
    File,
}

impl Route {
    /// Routes whose handler reads the body itself, as a stream with its
    /// own size limit, instead of the buffered JSON body.
    pub fn streams_body(self) -> bool {
        matches!(self, Route::Files)
    }
}

const ROUTES: &[(&str, Route, &[Method])] = &[
    ("/healthz", Route::Health, &[Method::GET]),
    ("/api/users", Route::Users, &[Method::GET, Method::POST]),
    ("/api/users/{id}", Route::User, &[Method::GET]),
    ("/api/me", Route::Me, &[Method::GET]),
    ("/api/me/password", Route::MyPassword, &[Method::PUT]),
    ("/api/auth/login", Route::Login, &[Method::POST]),
    ("/api/auth/code", Route::PhoneCode, &[Method::POST]),
    ("/api/auth/verify", Route::PhoneVerify, &[Method::POST]),
    ("/api/auth/logout", Route::Logout, &[Method::POST]),
    ("/api/auth/logout-all", Route::LogoutAll, &[Method::POST]),
    ("/api/sessions", Route::Sessions, &[Method::GET]),
    ("/api/sessions/{id}", Route::Session, &[Method::DELETE]),
    ("/api/rooms", Route::Rooms, &[Method::GET, Method::POST]),
    ("/api/rooms/public", Route::PublicRooms, &[Method::GET]),
    (
        "/api/rooms/{id}",
        Route::Room,
        &[Method::GET, Method::PATCH, Method::DELETE],
    ),
    (
        "/api/rooms/{id}/participants",
        Route::Participants,
        &[Method::POST],
    ),
    (
        "/api/rooms/{id}/participants/{userId}",
        Route::Participant,
        &[Method::DELETE],
    ),
    (
        "/api/rooms/{id}/messages",
        Route::Messages,
        &[Method::GET, Method::POST],
    ),
    ("/api/rooms/{id}/seen", Route::Seen, &[Method::POST]),
    ("/api/events", Route::Events, &[Method::GET]),
    ("/api/admin/auth", Route::AdminLogin, &[Method::POST]),
    (
        "/api/admin/auth/logout",
        Route::AdminLogout,
        &[Method::POST],
    ),
    ("/api/admin/stats", Route::AdminStats, &[Method::GET]),
    ("/api/files", Route::Files, &[Method::POST]),
    ("/api/files/{id}", Route::File, &[Method::GET]),
];

pub struct Router {
    inner: matchit::Router<usize>,
}

impl Router {
    pub fn new() -> Self {
        let mut inner = matchit::Router::new();
        for (i, (path, _, _)) in ROUTES.iter().enumerate() {
            // The table above is fixed; a conflict is a bug caught by the test below.
            inner
                .insert(*path, i)
                .expect("route table has no conflicts");
        }
        Router { inner }
    }

    /// The route and its path parameters, or 404 / 405.
    pub fn find(&self, method: &Method, path: &str) -> Result<(Route, Vec<(String, String)>)> {
        let found = self
            .inner
            .at(path)
            .map_err(|_| Error::NotFound(format!("no endpoint at {path}")))?;
        let (_, route, methods) = &ROUTES[*found.value];
        if !methods.contains(method) {
            let allow = methods
                .iter()
                .map(Method::as_str)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(Error::MethodNotAllowed { allow });
        }
        let params = found
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Ok((*route, params))
    }
}

pub async fn dispatch(route: Route, ctx: Ctx) -> Result<Reply> {
    let m = ctx.method.clone();
    match (route, m) {
        (Route::Health, _) => health::get(ctx).await,
        (Route::Users, Method::POST) => users::create(ctx).await,
        (Route::Users, _) => users::list(ctx).await,
        (Route::User, _) => users::get(ctx).await,
        (Route::Me, _) => users::me(ctx).await,
        (Route::MyPassword, _) => auth::change_password(ctx).await,
        (Route::Login, _) => auth::login(ctx).await,
        (Route::PhoneCode, _) => phone::send_code(ctx).await,
        (Route::PhoneVerify, _) => phone::verify(ctx).await,
        (Route::Logout, _) => auth::logout(ctx).await,
        (Route::LogoutAll, _) => auth::logout_all(ctx).await,
        (Route::Sessions, _) => sessions::list(ctx).await,
        (Route::Session, _) => sessions::delete(ctx).await,
        (Route::Rooms, Method::POST) => rooms::create(ctx).await,
        (Route::Rooms, _) => rooms::list_mine(ctx).await,
        (Route::PublicRooms, _) => rooms::list_public(ctx).await,
        (Route::Room, Method::PATCH) => rooms::update(ctx).await,
        (Route::Room, Method::DELETE) => rooms::delete(ctx).await,
        (Route::Room, _) => rooms::get(ctx).await,
        (Route::Participants, _) => rooms::add_participant(ctx).await,
        (Route::Participant, _) => rooms::remove_participant(ctx).await,
        (Route::Messages, Method::POST) => messages::create(ctx).await,
        (Route::Messages, _) => messages::list(ctx).await,
        (Route::Seen, _) => rooms::seen(ctx).await,
        (Route::Events, _) => events::stream(ctx).await,
        (Route::AdminLogin, _) => admin::auth::login(ctx).await,
        (Route::AdminLogout, _) => admin::auth::logout(ctx).await,
        (Route::AdminStats, _) => admin::stats::get(ctx).await,
        (Route::Files, _) => files::upload(ctx).await,
        (Route::File, _) => files::download(ctx).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve() {
        let r = Router::new();
        assert!(matches!(
            r.find(&Method::GET, "/api/rooms/public"),
            Ok((Route::PublicRooms, _))
        ));
        let (route, params) = r
            .find(&Method::DELETE, "/api/rooms/7/participants/9")
            .unwrap();
        assert!(matches!(route, Route::Participant));
        assert_eq!(
            params,
            [("id".into(), "7".into()), ("userId".into(), "9".into())]
        );
        assert_eq!(
            r.find(&Method::PUT, "/api/rooms").unwrap_err().status(),
            405
        );
        assert_eq!(
            r.find(&Method::GET, "/api/nothing").unwrap_err().status(),
            404
        );
    }
}
