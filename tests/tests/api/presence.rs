//! Presence: users come online with their first socket and go offline with
//! their last, may say they are away, and their teams hear of each change.
//! (A process that dies takes its users offline: see `cluster.rs`.)

use std::time::Duration;

use orbit_tests::ws::WsClient;
use orbit_tests::{TeamWorld, TestApp, assert_error, spawn_app};
use serde_json::{Value, json};

pub const PRESENCE_EVENTS: &str = "subscription($id: ID!) { teamEvents(teamId: $id) { __typename ... on Event { cursor type occurredAt } ... on PresenceChangedEvent { userId status user { id displayName } } } }";
pub const SET_PRESENCE: &str =
    "mutation($input: SetPresenceInput!) { setPresence(input: $input) { status } }";
const USER_PRESENCE: &str = "query($id: ID!) { user(id: $id) { id presence } }";
const TEAM_PRESENCE: &str = "query($id: ID!) { team(id: $id) { members(first: 100) { edges { node { user { id presence } } } } } }";

/// `member`'s socket, subscribed to the team's events as "p" and listening.
async fn watching_team(app: &TestApp, w: &TeamWorld) -> WsClient {
    let mut client = WsClient::connected(&app.ws_url(), w.member.token()).await;
    client
        .subscribe("p", PRESENCE_EVENTS, json!({ "id": w.team_id }))
        .await;
    client.ping().await;
    client
}

/// The next presence change the watcher hears: (user id, status).
async fn next_change(watcher: &mut WsClient) -> (String, String) {
    let payload = watcher.next_payload("p").await;
    let event = &payload["data"]["teamEvents"];
    assert_eq!(event["__typename"], "PresenceChangedEvent", "{payload}");
    assert_eq!(event["type"], "presence.changed");
    assert!(event["cursor"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(event["occurredAt"].is_string());
    assert_eq!(event["user"]["id"], event["userId"]);
    (
        event["userId"].as_str().unwrap().to_owned(),
        event["status"].as_str().unwrap().to_owned(),
    )
}

async fn presence_of(app: &TestApp, viewer: &str, user: &str) -> String {
    let data = app
        .gql_ok(Some(viewer), USER_PRESENCE, json!({ "id": user }))
        .await;
    data["user"]["presence"].as_str().unwrap().to_owned()
}

async fn set_presence(app: &TestApp, token: &str, status: &str) -> Value {
    app.gql(
        Some(token),
        SET_PRESENCE,
        json!({ "input": { "status": status } }),
    )
    .await
}

#[tokio::test]
async fn a_team_hears_a_member_come_online_go_away_come_back_and_go_offline() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let author = w.author.user_id.clone();
    let viewer = w.member.access_token.clone();
    assert_eq!(presence_of(&app, &viewer, &author).await, "OFFLINE");
    let mut watcher = watching_team(&app, &w).await;

    let author_socket = WsClient::connected(&app.ws_url(), w.author.token()).await;
    assert_eq!(
        next_change(&mut watcher).await,
        (author.clone(), "ONLINE".into())
    );
    assert_eq!(presence_of(&app, &viewer, &author).await, "ONLINE");

    let away = set_presence(&app, &w.author.access_token, "AWAY").await;
    assert_eq!(away["data"]["setPresence"]["status"], "AWAY", "{away}");
    assert_eq!(
        next_change(&mut watcher).await,
        (author.clone(), "AWAY".into())
    );
    assert_eq!(presence_of(&app, &viewer, &author).await, "AWAY");

    // Saying it again changes nothing, so nothing is announced: the next
    // change heard is the return.
    let again = set_presence(&app, &w.author.access_token, "AWAY").await;
    assert_eq!(again["data"]["setPresence"]["status"], "AWAY");
    let back = set_presence(&app, &w.author.access_token, "ONLINE").await;
    assert_eq!(back["data"]["setPresence"]["status"], "ONLINE");
    assert_eq!(
        next_change(&mut watcher).await,
        (author.clone(), "ONLINE".into())
    );

    drop(author_socket);
    assert_eq!(
        next_change(&mut watcher).await,
        (author.clone(), "OFFLINE".into())
    );
    assert_eq!(presence_of(&app, &viewer, &author).await, "OFFLINE");
}

#[tokio::test]
async fn a_user_stays_online_until_their_last_socket_closes() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let author = w.author.user_id.clone();
    let mut watcher = watching_team(&app, &w).await;

    let phone = WsClient::connected(&app.ws_url(), w.author.token()).await;
    assert_eq!(
        next_change(&mut watcher).await,
        (author.clone(), "ONLINE".into())
    );
    let laptop = WsClient::connected(&app.ws_url(), w.author.token()).await;
    drop(phone);
    // Still online on the laptop: the next change heard is this one, not
    // an OFFLINE for the phone.
    set_presence(&app, &w.author.access_token, "AWAY").await;
    assert_eq!(
        next_change(&mut watcher).await,
        (author.clone(), "AWAY".into())
    );

    drop(laptop);
    assert_eq!(
        next_change(&mut watcher).await,
        (author.clone(), "OFFLINE".into())
    );

    // Away went with the last socket: a new one starts online.
    let _again = WsClient::connected(&app.ws_url(), w.author.token()).await;
    assert_eq!(
        next_change(&mut watcher).await,
        (author.clone(), "ONLINE".into())
    );
    assert_eq!(
        presence_of(&app, &w.member.access_token, &author).await,
        "ONLINE"
    );
}

#[tokio::test]
async fn presence_reaches_only_the_users_teams_and_only_user_sockets_count() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let mut watcher = watching_team(&app, &w).await;

    // In no team: nobody to tell. A key is not a user: it has no presence.
    let _outsider = WsClient::connected(&app.ws_url(), w.outsider.token()).await;
    let _server = WsClient::connected(&app.ws_url(), Some(&w.keys.secret_key)).await;
    let _anonymous = WsClient::connected(&app.ws_url(), Some(&w.keys.publishable_key)).await;
    // A user of another app in a team of that app.
    let other = app.new_team_world().await;
    let _stranger = WsClient::connected(&app.ws_url(), other.member.token()).await;

    let _owner = WsClient::connected(&app.ws_url(), w.owner.token()).await;
    assert_eq!(
        next_change(&mut watcher).await,
        (w.owner.user_id.clone(), "ONLINE".into()),
        "the first change heard is the team owner's"
    );
    watcher
        .expect_silence(Some("p"), Duration::from_millis(300))
        .await;
    assert_eq!(
        presence_of(&app, &w.keys.secret_key, &w.outsider.user_id).await,
        "ONLINE",
        "the outsider is online, with no team to tell"
    );
}

#[tokio::test]
async fn a_team_lists_who_is_online_in_one_query() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let _watcher = watching_team(&app, &w).await;
    let _admin = WsClient::connected(&app.ws_url(), w.admin.token()).await;
    set_presence(&app, &w.admin.access_token, "AWAY").await;

    let data = app
        .gql_ok(
            Some(&w.keys.secret_key),
            TEAM_PRESENCE,
            json!({ "id": w.team_id }),
        )
        .await;
    let statuses: std::collections::HashMap<String, String> = data["team"]["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| {
            (
                edge["node"]["user"]["id"].as_str().unwrap().to_owned(),
                edge["node"]["user"]["presence"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(statuses[&w.member.user_id], "ONLINE");
    assert_eq!(statuses[&w.admin.user_id], "AWAY");
    assert_eq!(statuses[&w.owner.user_id], "OFFLINE");
    assert_eq!(statuses[&w.author.user_id], "OFFLINE");
}

#[tokio::test]
async fn set_presence_refuses_what_it_cannot_mean() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;

    // Without a socket there is nothing to mark: the answer says so.
    let offline = set_presence(&app, &w.author.access_token, "AWAY").await;
    assert_eq!(
        offline["data"]["setPresence"]["status"], "OFFLINE",
        "{offline}"
    );
    let _socket = WsClient::connected(&app.ws_url(), w.author.token()).await;
    assert_eq!(
        presence_of(&app, &w.member.access_token, &w.author.user_id).await,
        "ONLINE",
        "the AWAY sent without a socket was not kept"
    );

    let response = set_presence(&app, &w.author.access_token, "OFFLINE").await;
    assert_error(&response, "BAD_USER_INPUT", Some("status"));
    let response = set_presence(&app, &w.keys.secret_key, "AWAY").await;
    assert_error(&response, "FORBIDDEN", None);
    let response = set_presence(&app, &w.keys.publishable_key, "AWAY").await;
    assert_error(&response, "UNAUTHENTICATED", None);
    let response = app
        .gql(None, SET_PRESENCE, json!({ "input": { "status": "AWAY" } }))
        .await;
    assert_error(&response, "UNAUTHENTICATED", None);

    // Another app's user answers as one that does not exist.
    let other = app.new_team_world().await;
    let _theirs = WsClient::connected(&app.ws_url(), other.author.token()).await;
    let response = app
        .gql(
            Some(&w.keys.secret_key),
            USER_PRESENCE,
            json!({ "id": other.author.user_id }),
        )
        .await;
    assert_error(&response, "NOT_FOUND", Some("id"));
    assert!(response["data"].is_null() || response["data"]["user"].is_null());
}
