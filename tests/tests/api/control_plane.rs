//! The developer control plane: developers make apps, share them with
//! other developers by role, hold their keys, and delete them; what they
//! revoke or delete stops working at once, for requests and sockets.

use orbit_api::admin::CreatedAppKeys;
use orbit_tests::ws::WsClient;
use orbit_tests::{
    ADD_APP_MEMBER, CREATE_API_KEY, CREATE_APP, DeveloperApp, ME, PASSWORD, REVOKE_API_KEY,
    RedisServer, Session, TestApp, VIEWER, assert_error, email, error_code, spawn_app,
    spawn_cluster, spawn_console_app,
};
use serde_json::{Value, json};

const APPS: &str = "{ apps(first: 10) { edges { node { id name viewerRole } } } }";
const APP: &str = "query($id: ID!) { app(id: $id) { id name viewerRole members(first: 10) { edges { node { email role joinedAt user { id } } } } apiKeys(first: 10) { edges { node { id name kind environment hint revokedAt lastUsedAt } } } signingKeys(first: 10) { edges { node { kid version current retiredAt } } } settings { passwordLogin } } }";
const UPDATE_APP: &str =
    "mutation($input: UpdateAppInput!) { updateApp(input: $input) { app { id name } } }";
const DELETE_APP: &str =
    "mutation($input: DeleteAppInput!) { deleteApp(input: $input) { deletedAppId } }";
const SET_ROLE: &str = "mutation($input: SetAppMemberRoleInput!) { setAppMemberRole(input: $input) { member { role user { id } } } }";
const REMOVE_MEMBER: &str =
    "mutation($input: RemoveAppMemberInput!) { removeAppMember(input: $input) { removedUserId } }";

/// The app as `token` sees it through `app(id:)`.
async fn app_as(app: &TestApp, token: &str, app_id: &str) -> Value {
    app.gql_ok(Some(token), APP, json!({ "id": app_id })).await["app"].clone()
}

fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

/// Whether `token` is refused outright (HTTP 401), as a revoked or
/// deleted credential is.
async fn refused(app: &TestApp, token: &str) -> bool {
    let (status, body) = app
        .post_graphql(Some(token), &json!({ "query": VIEWER }))
        .await;
    status == 401 && error_code(&body).as_deref() == Some("UNAUTHENTICATED")
}

#[tokio::test]
async fn a_developer_creates_an_app_whose_keys_work_at_once() {
    let app = spawn_console_app().await;
    let ada = app.sign_up_developer("ada").await;
    let data = app
        .gql_ok(
            Some(&ada.access_token),
            CREATE_APP,
            json!({ "input": { "name": "  Launchpad " } }),
        )
        .await;
    let created = &data["createApp"];
    assert_eq!(created["app"]["name"], "Launchpad");
    assert_eq!(created["app"]["viewerRole"], "OWNER");
    let pk = created["publishableKey"].as_str().unwrap();
    let sk = created["secretKey"].as_str().unwrap();
    assert!(pk.starts_with("pk_live_"), "{pk}");
    assert!(sk.starts_with("sk_live_"), "{sk}");
    let app_id = created["app"]["id"].as_str().unwrap();

    // The keys are the app's: a user signs up with one, the other sees them.
    let user = app.sign_up(pk, &email("user"), "User").await;
    let seen = app
        .gql_ok(
            Some(sk),
            "{ viewer { kind app { id } } users(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(seen["viewer"]["kind"], "APP_SECRET");
    assert_eq!(seen["viewer"]["app"]["id"], app_id);
    assert_eq!(
        seen["users"]["edges"][0]["node"]["id"],
        user.user_id.as_str()
    );

    // It is the developer's, as owner, and its keys are listed without secrets.
    let listed = app.gql_ok(ada.token(), APPS, json!({})).await;
    assert_eq!(nodes(&listed["apps"])[0]["id"], app_id);
    assert_eq!(nodes(&listed["apps"])[0]["viewerRole"], "OWNER");
    let seen = app_as(&app, &ada.access_token, app_id).await;
    let members = nodes(&seen["members"]);
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["role"], "OWNER");
    assert_eq!(members[0]["email"], ada.email.as_str());
    let keys = nodes(&seen["apiKeys"]);
    assert_eq!(keys.len(), 2);
    let text = seen.to_string();
    assert!(
        !text.contains(pk) && !text.contains(sk),
        "a key leaked: {text}"
    );
    for key in &keys {
        let hint = key["hint"].as_str().unwrap();
        let whole = if key["kind"] == "PUBLISHABLE" { pk } else { sk };
        assert!(whole.starts_with(hint.trim_end_matches('…')), "{hint}");
        assert_eq!(key["environment"], "LIVE");
    }
}

#[tokio::test]
async fn only_developers_create_apps_and_names_are_checked() {
    let app = spawn_console_app().await;
    let ada = app.sign_up_developer("ada").await;
    let owned = app.create_app_as(&ada.access_token, "Mine").await;
    let user = app
        .sign_up(&owned.publishable_key, &email("user"), "User")
        .await;
    let create = json!({ "input": { "name": "Another" } });
    for (who, credential, code) in [
        ("an app user", Some(user.access_token.as_str()), "FORBIDDEN"),
        ("a secret key", Some(owned.secret_key.as_str()), "FORBIDDEN"),
        (
            "a publishable key",
            Some(owned.publishable_key.as_str()),
            "UNAUTHENTICATED",
        ),
        ("nobody", None, "UNAUTHENTICATED"),
    ] {
        let response = app.gql(credential, CREATE_APP, create.clone()).await;
        assert_eq!(
            error_code(&response).as_deref(),
            Some(code),
            "{who}: {response}"
        );
    }
    for name in ["", "   ", &"x".repeat(101)] {
        let response = app
            .gql(
                ada.token(),
                CREATE_APP,
                json!({ "input": { "name": name } }),
            )
            .await;
        assert_error(&response, "BAD_USER_INPUT", Some("name"));
    }
    let listed = app.gql_ok(ada.token(), APPS, json!({})).await;
    assert_eq!(nodes(&listed["apps"]).len(), 1, "nothing half-made");
}

#[tokio::test]
async fn the_operator_path_and_create_app_make_the_same_app() {
    let app = spawn_app().await;
    let owner = email("owner");
    let keys = app
        .create_app_with_owner("Operator", &owner, PASSWORD)
        .await;
    let developer = app.log_in_with(None, &owner).await;
    let seen = app_as(&app, &developer.access_token, &keys.app_id).await;
    assert_eq!(seen["viewerRole"], "OWNER");
    assert_eq!(nodes(&seen["apiKeys"]).len(), 2);
    // The owner makes a second app the developer's way.
    let second = app.create_app_as(&developer.access_token, "Second").await;
    let listed = app.gql_ok(developer.token(), APPS, json!({})).await;
    let ids: Vec<Value> = nodes(&listed["apps"])
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(keys.app_id), json!(second.app_id)]);
}

#[tokio::test]
async fn an_app_is_renamed_by_admins_and_its_secret_key() {
    let app = spawn_console_app().await;
    let ada = app.sign_up_developer("ada").await;
    let owned = app.create_app_as(&ada.access_token, "Before").await;
    let renamed = app
        .gql_ok(
            ada.token(),
            UPDATE_APP,
            json!({ "input": { "appId": owned.app_id, "name": "After" } }),
        )
        .await;
    assert_eq!(renamed["updateApp"]["app"]["name"], "After");
    let by_key = app
        .gql_ok(
            Some(&owned.secret_key),
            UPDATE_APP,
            json!({ "input": { "name": "By key" } }),
        )
        .await;
    assert_eq!(by_key["updateApp"]["app"]["name"], "By key");
    // A developer must say which app; the secret key may.
    let unnamed = app
        .gql(ada.token(), UPDATE_APP, json!({ "input": { "name": "X" } }))
        .await;
    assert_error(&unnamed, "BAD_USER_INPUT", Some("appId"));
    let blank = app
        .gql(
            ada.token(),
            UPDATE_APP,
            json!({ "input": { "appId": owned.app_id, "name": " " } }),
        )
        .await;
    assert_error(&blank, "BAD_USER_INPUT", Some("name"));
}

#[tokio::test]
async fn deleting_an_app_ends_its_keys_tokens_and_sockets_at_once() {
    let app = spawn_console_app().await;
    let ada = app.sign_up_developer("ada").await;
    let doomed = app.create_app_as(&ada.access_token, "Doomed").await;
    let kept = app.create_app_as(&ada.access_token, "Kept").await;
    let user = app
        .sign_up(&doomed.publishable_key, &email("user"), "User")
        .await;
    let team = app.create_team(&user.access_token, "Team").await;
    let thread = app
        .create_thread(&user.access_token, "Thread", Some(&team))
        .await;
    app.send_message(&user.access_token, &thread, "soon gone")
        .await;
    let kept_user = app
        .sign_up(&kept.publishable_key, &email("kept"), "Kept")
        .await;
    let mut user_socket = WsClient::connected(&app.ws_url(), user.token()).await;
    let mut key_socket = WsClient::connected(&app.ws_url(), Some(&doomed.secret_key)).await;
    let mut kept_socket = WsClient::connected(&app.ws_url(), Some(&kept.secret_key)).await;
    for socket in [&mut user_socket, &mut key_socket, &mut kept_socket] {
        socket.ping().await;
    }

    let deleted = app
        .gql_ok(
            ada.token(),
            DELETE_APP,
            json!({ "input": { "appId": doomed.app_id } }),
        )
        .await;
    assert_eq!(deleted["deleteApp"]["deletedAppId"], doomed.app_id.as_str());
    assert_eq!(user_socket.expect_close().await.0, 4403);
    assert_eq!(key_socket.expect_close().await.0, 4403);
    for credential in [
        &doomed.secret_key,
        &doomed.publishable_key,
        &user.access_token,
    ] {
        assert!(refused(&app, credential).await, "{credential} still works");
    }
    // Its events went with it: nothing of its messages is left to replay.
    let db = app.services.db().conn();
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let app_uuid = doomed
        .app_id
        .parse::<orbit_domain::ids::AppId>()
        .unwrap()
        .uuid();
    let events = orbit_domain::entities::event::Entity::find()
        .filter(orbit_domain::entities::event::Column::AppId.eq(app_uuid))
        .filter(orbit_domain::entities::event::Column::EventType.ne("app.deleted"))
        .count(db)
        .await
        .unwrap();
    assert_eq!(events, 0);

    // The other app goes on, and the developer's list has one app left.
    kept_socket.ping().await;
    let me = app.gql_ok(kept_user.token(), ME, json!({})).await;
    assert_eq!(me["me"]["id"], kept_user.user_id.as_str());
    let listed = app.gql_ok(ada.token(), APPS, json!({})).await;
    let left = nodes(&listed["apps"]);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["id"], kept.app_id.as_str());
    // Deleting it again: it does not exist.
    let again = app
        .gql(
            ada.token(),
            DELETE_APP,
            json!({ "input": { "appId": doomed.app_id } }),
        )
        .await;
    assert_error(&again, "NOT_FOUND", Some("appId"));
}

#[tokio::test]
async fn the_console_app_cannot_be_deleted() {
    let app = spawn_app().await;
    let console = app.services.console();
    let refused = orbit_persistence::apps::delete(app.services.db(), console, chrono::Utc::now())
        .await
        .unwrap_err();
    assert_eq!(refused.code, orbit_domain::ErrorCode::Forbidden);
    // Nor through the API: no developer is a member of it.
    let owner = email("owner");
    app.create_app_with_owner("Mine", &owner, PASSWORD).await;
    let developer = app.log_in_with(None, &owner).await;
    let console_id = console.app_id().to_string();
    let response = app
        .gql(
            developer.token(),
            DELETE_APP,
            json!({ "input": { "appId": console_id } }),
        )
        .await;
    assert_error(&response, "NOT_FOUND", Some("appId"));
    let viewer = app.gql_ok(None, VIEWER, json!({})).await;
    assert_eq!(viewer["viewer"]["app"]["id"], console_id);
}

/// An app owned by `owner` with an admin, a developer and a viewer.
struct Team {
    app: DeveloperApp,
    owner: Session,
    admin: Session,
    developer: Session,
    viewer: Session,
}

async fn team_of_developers(app: &TestApp) -> Team {
    let owner = app.sign_up_developer("owner").await;
    let admin = app.sign_up_developer("admin").await;
    let developer = app.sign_up_developer("developer").await;
    let viewer = app.sign_up_developer("viewer").await;
    let created = app.create_app_as(&owner.access_token, "Shared").await;
    for (who, role) in [
        (&admin, "ADMIN"),
        (&developer, "DEVELOPER"),
        (&viewer, "VIEWER"),
    ] {
        app.add_app_member(&owner.access_token, &created.app_id, &who.email, role)
            .await;
    }
    Team {
        app: created,
        owner,
        admin,
        developer,
        viewer,
    }
}

async fn set_role(app: &TestApp, as_: &Session, app_id: &str, user: &Session, role: &str) -> Value {
    app.gql(
        as_.token(),
        SET_ROLE,
        json!({ "input": { "appId": app_id, "userId": user.user_id, "role": role } }),
    )
    .await
}

async fn remove(app: &TestApp, as_: &Session, app_id: &str, user: &Session) -> Value {
    app.gql(
        as_.token(),
        REMOVE_MEMBER,
        json!({ "input": { "appId": app_id, "userId": user.user_id } }),
    )
    .await
}

#[tokio::test]
async fn members_are_added_by_email_and_see_their_role() {
    let app = spawn_console_app().await;
    let t = team_of_developers(&app).await;
    let seen = app_as(&app, &t.viewer.access_token, &t.app.app_id).await;
    assert_eq!(seen["viewerRole"], "VIEWER");
    let mut roles: Vec<(String, String)> = nodes(&seen["members"])
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    roles.sort();
    let mut expected = vec![
        (t.owner.email.clone(), "OWNER".to_owned()),
        (t.admin.email.clone(), "ADMIN".to_owned()),
        (t.developer.email.clone(), "DEVELOPER".to_owned()),
        (t.viewer.email.clone(), "VIEWER".to_owned()),
    ];
    expected.sort();
    assert_eq!(roles, expected);
    let listed = app.gql_ok(t.developer.token(), APPS, json!({})).await;
    assert_eq!(nodes(&listed["apps"])[0]["viewerRole"], "DEVELOPER");

    let add = |email: &str, role: &str| json!({ "input": { "appId": t.app.app_id, "email": email, "role": role } });
    // Someone without a console account, and someone already in.
    let unknown = app
        .gql(
            t.owner.token(),
            ADD_APP_MEMBER,
            add(&email("nobody"), "VIEWER"),
        )
        .await;
    assert_error(&unknown, "NOT_FOUND", Some("email"));
    let twice = app
        .gql(
            t.owner.token(),
            ADD_APP_MEMBER,
            add(&t.viewer.email, "VIEWER"),
        )
        .await;
    assert_error(&twice, "CONFLICT", Some("email"));
    let malformed = app
        .gql(
            t.owner.token(),
            ADD_APP_MEMBER,
            add("not an email", "VIEWER"),
        )
        .await;
    assert_error(&malformed, "BAD_USER_INPUT", Some("email"));
    // Admins add below owner; owners anyone.
    let newcomer = app.sign_up_developer("newcomer").await;
    let as_owner = app
        .gql(
            t.admin.token(),
            ADD_APP_MEMBER,
            add(&newcomer.email, "OWNER"),
        )
        .await;
    assert_error(&as_owner, "FORBIDDEN", None);
    let added = app
        .gql_ok(
            t.admin.token(),
            ADD_APP_MEMBER,
            add(&newcomer.email, "ADMIN"),
        )
        .await;
    assert_eq!(added["addAppMember"]["member"]["role"], "ADMIN");
    assert_eq!(
        added["addAppMember"]["member"]["user"]["id"],
        newcomer.user_id.as_str()
    );
    // The newcomer's portal shows the app.
    let theirs = app.gql_ok(newcomer.token(), APPS, json!({})).await;
    assert_eq!(nodes(&theirs["apps"])[0]["id"], t.app.app_id.as_str());
}

#[tokio::test]
async fn roles_change_within_each_roles_reach_and_an_app_keeps_an_owner() {
    let app = spawn_console_app().await;
    let t = team_of_developers(&app).await;
    let id = t.app.app_id.as_str();
    // Admins move people between viewer, developer and admin, not to or from owner.
    let promoted = set_role(&app, &t.admin, id, &t.viewer, "DEVELOPER").await;
    assert_eq!(
        promoted["data"]["setAppMemberRole"]["member"]["role"],
        "DEVELOPER"
    );
    assert_error(
        &set_role(&app, &t.admin, id, &t.viewer, "OWNER").await,
        "FORBIDDEN",
        None,
    );
    assert_error(
        &set_role(&app, &t.admin, id, &t.owner, "ADMIN").await,
        "FORBIDDEN",
        None,
    );
    assert_error(
        &set_role(&app, &t.developer, id, &t.viewer, "VIEWER").await,
        "FORBIDDEN",
        None,
    );
    // The last owner cannot step down or leave.
    let demoted = set_role(&app, &t.owner, id, &t.owner, "ADMIN").await;
    assert_error(&demoted, "CONFLICT", Some("userId"));
    assert_error(
        &remove(&app, &t.owner, id, &t.owner).await,
        "CONFLICT",
        Some("userId"),
    );
    // With a second owner, the first may leave.
    let second = set_role(&app, &t.owner, id, &t.admin, "OWNER").await;
    assert_eq!(
        second["data"]["setAppMemberRole"]["member"]["role"],
        "OWNER"
    );
    let left = remove(&app, &t.owner, id, &t.owner).await;
    assert_eq!(
        left["data"]["removeAppMember"]["removedUserId"],
        t.owner.user_id.as_str()
    );
    // Gone: the app answers as one that does not exist.
    let gone = app.gql(t.owner.token(), APP, json!({ "id": id })).await;
    assert_error(&gone, "NOT_FOUND", Some("id"));
    // Anyone leaves; admins remove below owner; nobody removes a non-member.
    let viewer_left = remove(&app, &t.viewer, id, &t.viewer).await;
    assert!(viewer_left["errors"].is_null(), "{viewer_left}");
    let removed = remove(&app, &t.admin, id, &t.developer).await;
    assert!(removed["errors"].is_null(), "{removed}");
    assert_error(
        &remove(&app, &t.admin, id, &t.developer).await,
        "NOT_FOUND",
        Some("userId"),
    );
    let members = nodes(&app_as(&app, &t.admin.access_token, id).await["members"]);
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["role"], "OWNER");
}

#[tokio::test]
async fn keys_are_shown_once_listed_without_secrets_and_work_at_once() {
    let app = spawn_console_app().await;
    let t = team_of_developers(&app).await;
    let id = t.app.app_id.as_str();
    let data = app
        .gql_ok(
            t.admin.token(),
            CREATE_API_KEY,
            json!({ "input": { "appId": id, "kind": "SECRET", "name": "CI", "environment": "TEST" } }),
        )
        .await;
    let created = &data["createApiKey"];
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("sk_test_"), "{key}");
    assert_eq!(created["apiKey"]["name"], "CI");
    assert_eq!(created["apiKey"]["environment"], "TEST");
    assert!(created["apiKey"]["lastUsedAt"].is_null());
    let key_id = created["apiKey"]["id"].as_str().unwrap();
    assert!(key_id.starts_with("key_"));
    // It works, and its use is recorded.
    let viewer = app.gql_ok(Some(key), VIEWER, json!({})).await;
    assert_eq!(viewer["viewer"]["kind"], "APP_SECRET");
    assert_eq!(viewer["viewer"]["app"]["id"], id);
    let publishable = app
        .gql_ok(
            t.owner.token(),
            CREATE_API_KEY,
            json!({ "input": { "appId": id, "kind": "PUBLISHABLE", "name": "Web" } }),
        )
        .await;
    let pk = publishable["createApiKey"]["key"].as_str().unwrap();
    assert!(
        pk.starts_with("pk_live_"),
        "the environment defaults to live: {pk}"
    );
    app.sign_up(pk, &email("web"), "Web user").await;

    let seen = app_as(&app, &t.viewer.access_token, id).await;
    let text = seen.to_string();
    assert!(
        !text.contains(key) && !text.contains(pk),
        "a key leaked: {text}"
    );
    let listed = nodes(&seen["apiKeys"]);
    assert_eq!(listed.len(), 4);
    let ci = listed.iter().find(|k| k["id"] == key_id).unwrap();
    assert_eq!(ci["kind"], "SECRET");
    let last_used =
        chrono::DateTime::parse_from_rfc3339(ci["lastUsedAt"].as_str().unwrap()).unwrap();
    assert_eq!(last_used, orbit_tests::start_time());
    assert!(key.starts_with(ci["hint"].as_str().unwrap().trim_end_matches('…')));
    // Developers and viewers do not hold keys; bad names are refused.
    let denied = app
        .gql(
            t.developer.token(),
            CREATE_API_KEY,
            json!({ "input": { "appId": id, "kind": "SECRET", "name": "Mine" } }),
        )
        .await;
    assert_error(&denied, "FORBIDDEN", None);
    let unnamed = app
        .gql(
            t.owner.token(),
            CREATE_API_KEY,
            json!({ "input": { "appId": id, "kind": "SECRET", "name": "" } }),
        )
        .await;
    assert_error(&unnamed, "BAD_USER_INPUT", Some("name"));
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_and_its_sockets_close() {
    let app = spawn_console_app().await;
    let t = team_of_developers(&app).await;
    let id = t.app.app_id.as_str();
    let mut secret_socket = WsClient::connected(&app.ws_url(), Some(&t.app.secret_key)).await;
    let mut publishable_socket =
        WsClient::connected(&app.ws_url(), Some(&t.app.publishable_key)).await;
    secret_socket.ping().await;
    publishable_socket.ping().await;
    let seen = app_as(&app, &t.owner.access_token, id).await;
    let secret_id = nodes(&seen["apiKeys"])
        .into_iter()
        .find(|k| k["kind"] == "SECRET")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let revoked = app
        .gql_ok(
            t.admin.token(),
            REVOKE_API_KEY,
            json!({ "input": { "appId": id, "id": secret_id } }),
        )
        .await;
    let revoked_at = revoked["revokeApiKey"]["apiKey"]["revokedAt"].clone();
    assert!(revoked_at.is_string());
    assert!(refused(&app, &t.app.secret_key).await);
    assert_eq!(secret_socket.expect_close().await.0, 4403);
    // The app's other key and its socket are untouched.
    publishable_socket.ping().await;
    let viewer = app
        .gql_ok(Some(&t.app.publishable_key), VIEWER, json!({}))
        .await;
    assert_eq!(viewer["viewer"]["kind"], "APP_PUBLISHABLE");
    // A socket cannot be opened with it either.
    let mut late = WsClient::connect(&app.ws_url(), orbit_tests::ws::Protocol::TransportWs).await;
    late.send_json(
        json!({ "type": "connection_init", "payload": { "authorization": t.app.secret_key } }),
    )
    .await;
    assert_eq!(late.expect_close().await.0, 4403);
    // Revoking it again changes nothing.
    app.clock.advance(chrono::Duration::minutes(1));
    let again = app
        .gql_ok(
            t.owner.token(),
            REVOKE_API_KEY,
            json!({ "input": { "appId": id, "id": secret_id } }),
        )
        .await;
    assert_eq!(again["revokeApiKey"]["apiKey"]["revokedAt"], revoked_at);
    let listed = nodes(&app_as(&app, &t.owner.access_token, id).await["apiKeys"]);
    let secret = listed
        .iter()
        .find(|k| k["id"] == secret_id.as_str())
        .unwrap();
    assert_eq!(secret["revokedAt"], revoked_at);
}

#[tokio::test]
async fn the_secret_key_manages_neither_keys_nor_members_nor_the_app() {
    let app = spawn_console_app().await;
    let t = team_of_developers(&app).await;
    let sk = Some(t.app.secret_key.as_str());
    let refused: Vec<(&str, &str, Value)> = vec![
        (
            "createApiKey",
            CREATE_API_KEY,
            json!({ "input": { "kind": "SECRET", "name": "More" } }),
        ),
        (
            "revokeApiKey",
            REVOKE_API_KEY,
            json!({ "input": { "id": orbit_tests::missing_id("key") } }),
        ),
        (
            "addAppMember",
            ADD_APP_MEMBER,
            json!({ "input": { "email": t.viewer.email, "role": "OWNER" } }),
        ),
        (
            "setAppMemberRole",
            SET_ROLE,
            json!({ "input": { "userId": t.owner.user_id, "role": "VIEWER" } }),
        ),
        (
            "removeAppMember",
            REMOVE_MEMBER,
            json!({ "input": { "userId": t.owner.user_id } }),
        ),
        (
            "deleteApp",
            DELETE_APP,
            json!({ "input": { "appId": t.app.app_id } }),
        ),
        (
            "rotateSigningKey",
            "mutation { rotateSigningKey(input: {}) { signingKey { kid } } }",
            json!({}),
        ),
    ];
    for (name, query, variables) in refused {
        let response = app.gql(sk, query, variables).await;
        assert_eq!(
            error_code(&response).as_deref(),
            Some("FORBIDDEN"),
            "{name}: {response}"
        );
    }
    // It reads the app's configuration, its own app only.
    let seen = app.gql_ok(sk, APP, json!({ "id": t.app.app_id })).await;
    assert_eq!(nodes(&seen["app"]["members"]).len(), 4);
    assert_eq!(nodes(&seen["app"]["apiKeys"]).len(), 2);
    assert!(seen["app"]["viewerRole"].is_null());
}

const ROTATE: &str = "mutation($input: RotateSigningKeyInput!) { rotateSigningKey(input: $input) { signingKey { kid version current retiredAt } retiredKey { kid version current retiredAt } } }";

#[tokio::test]
async fn signing_keys_rotate_and_old_tokens_live_out_their_time() {
    let app = spawn_console_app().await;
    let t = team_of_developers(&app).await;
    let id = t.app.app_id.as_str();
    let before = app
        .sign_up(&t.app.publishable_key, &email("before"), "Before")
        .await;
    let kid = |token: &str| orbit_tests::jwt_parts(token).0["kid"].clone();
    assert_eq!(kid(&before.access_token), format!("{id}.v1"));
    let keys = nodes(&app_as(&app, &t.viewer.access_token, id).await["signingKeys"]);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], format!("{id}.v1"));
    assert_eq!(keys[0]["current"], true);

    // Developers and viewers do not rotate.
    for who in [&t.developer, &t.viewer] {
        let response = app
            .gql(who.token(), ROTATE, json!({ "input": { "appId": id } }))
            .await;
        assert_error(&response, "FORBIDDEN", None);
    }
    app.clock.advance(chrono::Duration::minutes(10));
    let rotated = app
        .gql_ok(t.admin.token(), ROTATE, json!({ "input": { "appId": id } }))
        .await["rotateSigningKey"]
        .clone();
    assert_eq!(rotated["signingKey"]["kid"], format!("{id}.v2"));
    assert_eq!(rotated["signingKey"]["current"], true);
    assert_eq!(rotated["retiredKey"]["version"], 1);
    assert!(rotated["retiredKey"]["retiredAt"].is_string());

    // New tokens are signed by version 2; the old one still works…
    let after = app
        .sign_up(&t.app.publishable_key, &email("after"), "After")
        .await;
    assert_eq!(kid(&after.access_token), format!("{id}.v2"));
    assert!(!refused(&app, &before.access_token).await);
    // …until it expires, 15 minutes after it was issued.
    app.clock.advance(chrono::Duration::minutes(5));
    assert!(refused(&app, &before.access_token).await);
    assert!(!refused(&app, &after.access_token).await);
    // Its refresh token gets a token of the current version.
    let refreshed = app
        .gql_ok(
            Some(&t.app.publishable_key),
            orbit_tests::REFRESH_SESSION,
            json!({ "input": { "refreshToken": before.refresh_token } }),
        )
        .await;
    let renewed = refreshed["refreshSession"]["accessToken"].as_str().unwrap();
    assert_eq!(kid(renewed), format!("{id}.v2"));

    // Rotating twice ends what version 2 signed at once: an emergency stop.
    // (The owner's own token has expired meanwhile: they sign in again.)
    let owner = app.log_in_with(None, &t.owner.email).await;
    let rotate = || app.gql_ok(owner.token(), ROTATE, json!({ "input": { "appId": id } }));
    rotate().await;
    assert!(
        !refused(&app, renewed).await,
        "v2 is the previous version now"
    );
    rotate().await;
    assert!(refused(&app, renewed).await, "v2 was retired twice");
    let listed = app_as(&app, &owner.access_token, id).await;
    let versions: Vec<Value> = nodes(&listed["signingKeys"])
        .iter()
        .map(|k| k["version"].clone())
        .collect();
    assert_eq!(versions, vec![json!(4), json!(3), json!(2), json!(1)]);
    // Developers' own tokens (signed by the console's key) are untouched.
    assert!(!refused(&app, &owner.access_token).await);
}

/// Two processes (with a Redis of their own, kept in the tuple), an app,
/// and its owner signed in to the console.
async fn cluster_with_app() -> (RedisServer, TestApp, TestApp, CreatedAppKeys, Session) {
    let redis = RedisServer::start().await;
    let (first, second) = spawn_cluster(&redis.url()).await;
    let owner = email("owner");
    let keys = first
        .create_app_with_owner("Cluster", &owner, PASSWORD)
        .await;
    let developer = first.log_in_with(None, &owner).await;
    (redis, first, second, keys, developer)
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_on_every_process() {
    let (_redis, first, second, keys, developer) = cluster_with_app().await;
    let made = first
        .gql_ok(
            developer.token(),
            CREATE_API_KEY,
            json!({ "input": { "appId": keys.app_id, "kind": "SECRET", "name": "Worker" } }),
        )
        .await;
    let key = made["createApiKey"]["key"].as_str().unwrap().to_owned();
    let key_id = made["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for process in [&first, &second] {
        assert!(!refused(process, &key).await);
    }
    let mut on_second = WsClient::connected(&second.ws_url(), Some(&key)).await;
    let mut other_key_on_second =
        WsClient::connected(&second.ws_url(), Some(&keys.secret_key)).await;
    on_second.ping().await;
    other_key_on_second.ping().await;

    first
        .gql_ok(
            developer.token(),
            REVOKE_API_KEY,
            json!({ "input": { "appId": keys.app_id, "id": key_id } }),
        )
        .await;
    // The process that revoked it forgets the key before it answers; the
    // other hears of it over the broker within milliseconds (no waiting
    // for its cache time: the clock does not move).
    assert!(refused(&first, &key).await, "still let in after revocation");
    orbit_tests::eventually("the other process refuses the revoked key", || {
        refused(&second, &key)
    })
    .await;
    assert_eq!(on_second.expect_close().await.0, 4403);
    other_key_on_second.ping().await;
    assert!(!refused(&second, &keys.secret_key).await);
}

#[tokio::test]
async fn every_process_stops_checking_a_key_retired_twice_within_the_cache_time() {
    let (_redis, first, second, keys, developer) = cluster_with_app().await;
    let user = first
        .sign_up(&keys.publishable_key, &email("user"), "User")
        .await;
    // The second process has read the app's versions.
    assert!(!refused(&second, &user.access_token).await);
    for _ in 0..2 {
        first
            .gql_ok(
                developer.token(),
                ROTATE,
                json!({ "input": { "appId": keys.app_id } }),
            )
            .await;
    }
    assert!(refused(&first, &user.access_token).await);
    // The other process reads again once what it read is older than its
    // cache time, and agrees.
    first.clock.advance(orbit_api::KEY_CACHE_TTL);
    assert!(refused(&second, &user.access_token).await);
    // Tokens of the current version work on both at once, whatever either read.
    let fresh = second.log_in(&keys.publishable_key, &user.email).await;
    for process in [&first, &second] {
        assert!(!refused(process, &fresh.access_token).await);
    }
}
