//! Paths to handlers. Each route lists its methods; a known path with
//! another method is 405 with `Allow`.

use super::context::Ctx;
use super::response::Reply;
use super::{
    admin, auth, auto_destruct, auto_replies, auto_seen, bot, channels, contacts, events, files,
    health, messages, online, phone, rooms, scheduled, sessions, test_clock, users,
};
use crate::error::{Error, Result};
use hyper::Method;

#[derive(Debug, Clone, Copy)]
pub enum Route {
    Health,
    Users,
    User,
    Me,
    MyPassword,
    MyGoal,
    MyOnlineToday,
    MyOnlineWeek,
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
    AdminBots,
    AdminBot,
    AdminBotToken,
    AdminBotWebhook,
    AdminBotDeliveries,
    BotMe,
    BotRooms,
    BotMessages,
    BotWebhook,
    AdminUsers,
    AdminUser,
    AdminRooms,
    AdminRoom,
    AdminParticipants,
    AdminParticipant,
    AdminRoomMessages,
    AdminMessages,
    AdminMessage,
    AdminSessions,
    AdminSession,
    Files,
    File,
    Contacts,
    NoisyContacts,
    BestContacts,
    ContactAnalysis,
    ContactChart,
    TestClock,
    ScheduledMessages,
    Channels,
    Channel,
    ChannelRating,
    ScheduledMessage,
    AutoDestructs,
    AutoDestruct,
    AutoSeens,
    AutoSeen,
    AutoReplies,
    AutoReply,
    Message,
    Reaction,
    MessageSearch,
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
    ("/api/me/goal", Route::MyGoal, &[Method::GET, Method::PUT]),
    (
        "/api/me/online-time/today",
        Route::MyOnlineToday,
        &[Method::GET],
    ),
    (
        "/api/me/online-time/week",
        Route::MyOnlineWeek,
        &[Method::GET],
    ),
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
    (
        "/api/rooms/{id}/messages/{messageId}",
        Route::Message,
        &[Method::PATCH, Method::DELETE],
    ),
    (
        "/api/rooms/{id}/messages/{messageId}/reactions/{emoji}",
        Route::Reaction,
        &[Method::PUT, Method::DELETE],
    ),
    ("/api/messages/search", Route::MessageSearch, &[Method::GET]),
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
    (
        "/api/contacts",
        Route::Contacts,
        &[Method::GET, Method::POST],
    ),
    ("/api/contacts/noisy", Route::NoisyContacts, &[Method::GET]),
    ("/api/contacts/best", Route::BestContacts, &[Method::GET]),
    (
        "/api/contacts/{id}/analysis",
        Route::ContactAnalysis,
        &[Method::GET],
    ),
    (
        "/api/contacts/{id}/chart",
        Route::ContactChart,
        &[Method::GET],
    ),
    ("/api/test/clock", Route::TestClock, &[Method::POST]),
    ("/api/channels", Route::Channels, &[Method::GET]),
    ("/api/channels/{id}", Route::Channel, &[Method::GET]),
    (
        "/api/channels/{id}/rating",
        Route::ChannelRating,
        &[Method::PUT],
    ),
    (
        "/api/scheduled-messages",
        Route::ScheduledMessages,
        &[Method::GET, Method::POST],
    ),
    (
        "/api/scheduled-messages/{id}",
        Route::ScheduledMessage,
        &[Method::GET, Method::PATCH, Method::DELETE],
    ),
    (
        "/api/auto-destructs",
        Route::AutoDestructs,
        &[Method::GET, Method::POST],
    ),
    (
        "/api/auto-destructs/{id}",
        Route::AutoDestruct,
        &[Method::GET, Method::PATCH, Method::DELETE],
    ),
    (
        "/api/auto-seen",
        Route::AutoSeens,
        &[Method::GET, Method::POST],
    ),
    (
        "/api/auto-seen/{id}",
        Route::AutoSeen,
        &[Method::GET, Method::PATCH, Method::DELETE],
    ),
    (
        "/api/auto-replies",
        Route::AutoReplies,
        &[Method::GET, Method::POST],
    ),
    (
        "/api/auto-replies/{id}",
        Route::AutoReply,
        &[Method::GET, Method::PATCH, Method::DELETE],
    ),
    ("/api/files/{id}", Route::File, &[Method::GET]),
    (
        "/api/admin/users",
        Route::AdminUsers,
        &[Method::GET, Method::POST],
    ),
    (
        "/api/admin/users/{id}",
        Route::AdminUser,
        &[Method::GET, Method::PATCH, Method::DELETE],
    ),
    (
        "/api/admin/rooms",
        Route::AdminRooms,
        &[Method::GET, Method::POST],
    ),
    (
        "/api/admin/rooms/{id}",
        Route::AdminRoom,
        &[Method::GET, Method::PATCH, Method::DELETE],
    ),
    (
        "/api/admin/rooms/{id}/participants",
        Route::AdminParticipants,
        &[Method::GET, Method::POST],
    ),
    (
        "/api/admin/rooms/{id}/participants/{userId}",
        Route::AdminParticipant,
        &[Method::PATCH, Method::DELETE],
    ),
    (
        "/api/admin/rooms/{id}/messages",
        Route::AdminRoomMessages,
        &[Method::GET, Method::POST],
    ),
    ("/api/admin/messages", Route::AdminMessages, &[Method::GET]),
    (
        "/api/admin/messages/{messageId}",
        Route::AdminMessage,
        &[Method::GET, Method::DELETE],
    ),
    ("/api/admin/sessions", Route::AdminSessions, &[Method::GET]),
    (
        "/api/admin/sessions/{id}",
        Route::AdminSession,
        &[Method::GET, Method::DELETE],
    ),
    (
        "/api/admin/bots",
        Route::AdminBots,
        &[Method::GET, Method::POST],
    ),
    (
        "/api/admin/bots/{id}",
        Route::AdminBot,
        &[Method::GET, Method::PATCH, Method::DELETE],
    ),
    (
        "/api/admin/bots/{id}/token",
        Route::AdminBotToken,
        &[Method::POST],
    ),
    (
        "/api/admin/bots/{id}/webhook",
        Route::AdminBotWebhook,
        &[Method::PUT, Method::DELETE],
    ),
    (
        "/api/admin/bots/{id}/deliveries",
        Route::AdminBotDeliveries,
        &[Method::GET],
    ),
    ("/api/bot/me", Route::BotMe, &[Method::GET]),
    ("/api/bot/rooms", Route::BotRooms, &[Method::GET]),
    ("/api/bot/messages", Route::BotMessages, &[Method::POST]),
    (
        "/api/bot/webhook",
        Route::BotWebhook,
        &[Method::PUT, Method::DELETE],
    ),
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
        (Route::MyGoal, Method::PUT) => online::put_goal(ctx).await,
        (Route::MyGoal, _) => online::get_goal(ctx).await,
        (Route::MyOnlineToday, _) => online::today(ctx).await,
        (Route::MyOnlineWeek, _) => online::week(ctx).await,
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
        (Route::Message, Method::PATCH) => messages::update(ctx).await,
        (Route::Message, _) => messages::delete(ctx).await,
        (Route::Reaction, Method::PUT) => messages::react(ctx, true).await,
        (Route::Reaction, _) => messages::react(ctx, false).await,
        (Route::MessageSearch, _) => messages::search(ctx).await,
        (Route::Seen, _) => rooms::seen(ctx).await,
        (Route::Events, _) => events::stream(ctx).await,
        (Route::AdminLogin, _) => admin::auth::login(ctx).await,
        (Route::AdminLogout, _) => admin::auth::logout(ctx).await,
        (Route::AdminStats, _) => admin::stats::get(ctx).await,
        (Route::Files, _) => files::upload(ctx).await,
        (Route::File, _) => files::download(ctx).await,
        (Route::Contacts, Method::POST) => contacts::add(ctx).await,
        (Route::Contacts, _) => contacts::list(ctx).await,
        (Route::NoisyContacts, _) => contacts::noisy(ctx).await,
        (Route::BestContacts, _) => contacts::best(ctx).await,
        (Route::ContactAnalysis, _) => contacts::analysis(ctx).await,
        (Route::ContactChart, _) => contacts::chart(ctx).await,
        (Route::TestClock, _) => test_clock::advance(ctx).await,
        (Route::Channels, _) => channels::list(ctx).await,
        (Route::Channel, _) => channels::get(ctx).await,
        (Route::ChannelRating, _) => channels::rate(ctx).await,
        (Route::ScheduledMessages, Method::POST) => scheduled::create(ctx).await,
        (Route::ScheduledMessages, _) => scheduled::list(ctx).await,
        (Route::ScheduledMessage, Method::PATCH) => scheduled::update(ctx).await,
        (Route::ScheduledMessage, Method::DELETE) => scheduled::cancel(ctx).await,
        (Route::ScheduledMessage, _) => scheduled::get(ctx).await,
        (Route::AutoDestructs, Method::POST) => auto_destruct::create(ctx).await,
        (Route::AutoDestructs, _) => auto_destruct::list(ctx).await,
        (Route::AutoDestruct, Method::PATCH) => auto_destruct::update(ctx).await,
        (Route::AutoDestruct, Method::DELETE) => auto_destruct::delete(ctx).await,
        (Route::AutoDestruct, _) => auto_destruct::get(ctx).await,
        (Route::AutoSeens, Method::POST) => auto_seen::create(ctx).await,
        (Route::AutoSeens, _) => auto_seen::list(ctx).await,
        (Route::AutoSeen, Method::PATCH) => auto_seen::update(ctx).await,
        (Route::AutoSeen, Method::DELETE) => auto_seen::delete(ctx).await,
        (Route::AutoSeen, _) => auto_seen::get(ctx).await,
        (Route::AutoReplies, Method::POST) => auto_replies::create(ctx).await,
        (Route::AutoReplies, _) => auto_replies::list(ctx).await,
        (Route::AutoReply, Method::PATCH) => auto_replies::update(ctx).await,
        (Route::AutoReply, Method::DELETE) => auto_replies::delete(ctx).await,
        (Route::AutoReply, _) => auto_replies::get(ctx).await,
        (Route::AdminUsers, Method::POST) => admin::users::create(ctx).await,
        (Route::AdminUsers, _) => admin::users::list(ctx).await,
        (Route::AdminUser, Method::PATCH) => admin::users::update(ctx).await,
        (Route::AdminUser, Method::DELETE) => admin::users::delete(ctx).await,
        (Route::AdminUser, _) => admin::users::get(ctx).await,
        (Route::AdminRooms, Method::POST) => admin::rooms::create(ctx).await,
        (Route::AdminRooms, _) => admin::rooms::list(ctx).await,
        (Route::AdminRoom, Method::PATCH) => admin::rooms::update(ctx).await,
        (Route::AdminRoom, Method::DELETE) => admin::rooms::delete(ctx).await,
        (Route::AdminRoom, _) => admin::rooms::get(ctx).await,
        (Route::AdminParticipants, Method::POST) => admin::participants::add(ctx).await,
        (Route::AdminParticipants, _) => admin::participants::list(ctx).await,
        (Route::AdminParticipant, Method::PATCH) => admin::participants::update(ctx).await,
        (Route::AdminParticipant, _) => admin::participants::remove(ctx).await,
        (Route::AdminRoomMessages, Method::POST) => admin::messages::create(ctx).await,
        (Route::AdminRoomMessages, _) => admin::messages::list_room(ctx).await,
        (Route::AdminMessages, _) => admin::messages::list(ctx).await,
        (Route::AdminMessage, Method::DELETE) => admin::messages::delete(ctx).await,
        (Route::AdminMessage, _) => admin::messages::get(ctx).await,
        (Route::AdminSessions, _) => admin::sessions::list(ctx).await,
        (Route::AdminSession, Method::DELETE) => admin::sessions::delete(ctx).await,
        (Route::AdminSession, _) => admin::sessions::get(ctx).await,
        (Route::AdminBots, Method::POST) => admin::bots::create(ctx).await,
        (Route::AdminBots, _) => admin::bots::list(ctx).await,
        (Route::AdminBot, Method::PATCH) => admin::bots::update(ctx).await,
        (Route::AdminBot, Method::DELETE) => admin::bots::delete(ctx).await,
        (Route::AdminBot, _) => admin::bots::get(ctx).await,
        (Route::AdminBotToken, _) => admin::bots::rotate_token(ctx).await,
        (Route::AdminBotWebhook, Method::PUT) => admin::bots::put_webhook(ctx).await,
        (Route::AdminBotWebhook, _) => admin::bots::delete_webhook(ctx).await,
        (Route::AdminBotDeliveries, _) => admin::bots::deliveries(ctx).await,
        (Route::BotMe, _) => bot::me(ctx).await,
        (Route::BotRooms, _) => bot::rooms(ctx).await,
        (Route::BotMessages, _) => bot::post(ctx).await,
        (Route::BotWebhook, Method::PUT) => bot::put_webhook(ctx).await,
        (Route::BotWebhook, _) => bot::delete_webhook(ctx).await,
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
