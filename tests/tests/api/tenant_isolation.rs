//! A second app's credentials never reach the first app's data: every ID of
//! app A, used from app B, answers as if it did not exist.

use orbit_tests::{
    ADD_THREAD_PARTICIPANT, CREATE_TEAM, CREATE_THREAD, DELETE_MESSAGE, DELETE_TEAM, DELETE_THREAD,
    EDIT_MESSAGE, INVITE_TEAM_MEMBER, JOIN_TEAM, LOG_IN, MARK_THREAD_READ, PASSWORD,
    REFRESH_SESSION, REMOVE_TEAM_MEMBER, REMOVE_THREAD_PARTICIPANT, SEND_MESSAGE,
    SET_TEAM_MEMBER_ROLE, Session, TEAM, THREAD, TeamWorld, TestApp, UPDATE_TEAM, UPDATE_THREAD,
    error_code, node_ids, spawn_app,
};
use serde_json::{Value, json};

struct TwoApps {
    app: TestApp,
    a: TeamWorld,
    /// App B's secret key and a user of B (owner of a team and thread in B).
    b_secret: String,
    b_publishable: String,
    b_user: Session,
    b_team: String,
    b_thread: String,
}

async fn two_apps() -> TwoApps {
    let app = spawn_app().await;
    let a = app.new_team_world().await;
    let b_keys = app.create_app("B").await;
    let b_user = app
        .sign_up(&b_keys.publishable_key, &orbit_tests::email("b"), "Bee")
        .await;
    let b_team = app.create_team(&b_user.access_token, "B Team").await;
    let b_thread = app
        .create_thread(&b_user.access_token, "B Thread", Some(&b_team))
        .await;
    TwoApps {
        app,
        a,
        b_secret: b_keys.secret_key,
        b_publishable: b_keys.publishable_key,
        b_user,
        b_team,
        b_thread,
    }
}

/// What B attempts against A's IDs: (name, query, variables, root field).
fn attempts(
    t: &TwoApps,
    as_secret: bool,
) -> Vec<(&'static str, &'static str, Value, &'static str)> {
    let a = &t.a;
    let author = |mut input: Value| {
        if as_secret {
            input["authorId"] = json!(t.b_user.user_id);
        }
        json!({ "input": input })
    };
    vec![
        ("team", TEAM, json!({ "id": a.team_id }), "team"),
        ("thread", THREAD, json!({ "id": a.thread_id }), "thread"),
        (
            "user",
            "query($id: ID!) { user(id: $id) { id email } }",
            json!({ "id": a.owner.user_id }),
            "user",
        ),
        (
            "threads(teamId)",
            "query($teamId: ID) { threads(teamId: $teamId) { edges { node { id } } } }",
            json!({ "teamId": a.team_id }),
            "threads",
        ),
        (
            "updateTeam",
            UPDATE_TEAM,
            json!({ "input": { "id": a.team_id, "name": "Pwned" } }),
            "updateTeam",
        ),
        (
            "deleteTeam",
            DELETE_TEAM,
            json!({ "input": { "id": a.team_id } }),
            "deleteTeam",
        ),
        (
            "inviteTeamMember",
            INVITE_TEAM_MEMBER,
            json!({ "input": { "teamId": a.team_id, "email": t.b_user.email, "role": "OWNER" } }),
            "inviteTeamMember",
        ),
        (
            "removeTeamMember",
            REMOVE_TEAM_MEMBER,
            json!({ "input": { "teamId": a.team_id, "userId": a.member.user_id } }),
            "removeTeamMember",
        ),
        (
            "setTeamMemberRole",
            SET_TEAM_MEMBER_ROLE,
            json!({ "input": { "teamId": a.team_id, "userId": a.member.user_id, "role": "OWNER" } }),
            "setTeamMemberRole",
        ),
        (
            "createThread(teamId)",
            CREATE_THREAD,
            json!({ "input": { "title": "Intruder", "teamId": a.team_id } }),
            "createThread",
        ),
        (
            "updateThread",
            UPDATE_THREAD,
            json!({ "input": { "id": a.thread_id, "title": "Pwned" } }),
            "updateThread",
        ),
        (
            "deleteThread",
            DELETE_THREAD,
            json!({ "input": { "id": a.thread_id } }),
            "deleteThread",
        ),
        (
            "addThreadParticipant(A thread)",
            ADD_THREAD_PARTICIPANT,
            json!({ "input": { "threadId": a.thread_id, "userId": t.b_user.user_id } }),
            "addThreadParticipant",
        ),
        (
            "addThreadParticipant(A user)",
            ADD_THREAD_PARTICIPANT,
            json!({ "input": { "threadId": t.b_thread, "userId": a.owner.user_id } }),
            "addThreadParticipant",
        ),
        (
            "removeThreadParticipant",
            REMOVE_THREAD_PARTICIPANT,
            json!({ "input": { "threadId": a.thread_id, "userId": a.author.user_id } }),
            "removeThreadParticipant",
        ),
        (
            "sendMessage(A thread)",
            SEND_MESSAGE,
            author(json!({ "threadId": a.thread_id, "content": "intruder" })),
            "sendMessage",
        ),
        (
            "editMessage",
            EDIT_MESSAGE,
            json!({ "input": { "id": a.message_id, "content": "pwned" } }),
            "editMessage",
        ),
        (
            "deleteMessage",
            DELETE_MESSAGE,
            json!({ "input": { "id": a.message_id } }),
            "deleteMessage",
        ),
        (
            "markThreadRead",
            MARK_THREAD_READ,
            json!({ "input": { "threadId": a.thread_id, "messageId": a.message_id } }),
            "markThreadRead",
        ),
        (
            "createThread(participant from A)",
            CREATE_THREAD,
            if as_secret {
                json!({ "input": { "title": "Lure", "teamId": t.b_team, "participantIds": [a.owner.user_id] } })
            } else {
                json!({ "input": { "title": "Lure", "participantIds": [a.owner.user_id] } })
            },
            "createThread",
        ),
    ]
}

/// Attempts only a secret key can make: naming A's users as owner or author.
fn secret_only_attempts(t: &TwoApps) -> Vec<(&'static str, &'static str, Value, &'static str)> {
    let a = &t.a;
    vec![
        (
            "createTeam(ownerId from A)",
            CREATE_TEAM,
            json!({ "input": { "name": "Stolen", "ownerId": a.owner.user_id } }),
            "createTeam",
        ),
        (
            "createThread(ownerId from A)",
            CREATE_THREAD,
            json!({ "input": { "title": "Stolen", "ownerId": a.owner.user_id } }),
            "createThread",
        ),
        (
            "sendMessage(authorId from A)",
            SEND_MESSAGE,
            json!({ "input": { "threadId": t.b_thread, "content": "as A", "authorId": a.owner.user_id } }),
            "sendMessage",
        ),
    ]
}

fn check(
    failures: &mut Vec<String>,
    who: &str,
    name: &str,
    root: &str,
    response: &Value,
    forbidden_allowed: bool,
) {
    let code = error_code(response);
    let code_ok = match code.as_deref() {
        Some("NOT_FOUND") => true,
        Some("FORBIDDEN") => forbidden_allowed,
        _ => false,
    };
    let no_data = response["data"].is_null() || response["data"][root].is_null();
    if !code_ok || !no_data {
        failures.push(format!("{who} {name}: {response}"));
    }
}

async fn assert_a_is_untouched(t: &TwoApps) {
    let app = &t.app;
    let a = &t.a;
    let team = app
        .gql_ok(a.owner.token(), TEAM, json!({ "id": a.team_id }))
        .await;
    assert_eq!(team["team"]["name"], "Crew");
    let mut roles: Vec<(String, String)> = team["team"]["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["user"]["id"].as_str().unwrap().to_owned(),
                e["node"]["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    roles.sort();
    let mut expected = vec![
        (a.owner.user_id.clone(), "OWNER".to_owned()),
        (a.admin.user_id.clone(), "ADMIN".to_owned()),
        (a.member.user_id.clone(), "MEMBER".to_owned()),
        (a.author.user_id.clone(), "MEMBER".to_owned()),
    ];
    expected.sort();
    assert_eq!(roles, expected);

    let thread = app
        .gql_ok(a.owner.token(), THREAD, json!({ "id": a.thread_id }))
        .await;
    assert_eq!(thread["thread"]["title"], "Plans");
    assert!(
        thread["thread"]["participants"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let messages = app
        .gql_ok(
            a.owner.token(),
            "query($id: ID!) { thread(id: $id) { messages(first: 100) { edges { node { id content deletedAt } } } } }",
            json!({ "id": a.thread_id }),
        )
        .await;
    let edges = messages["thread"]["messages"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1, "a message was added to A: {messages}");
    assert_eq!(edges[0]["node"]["id"], a.message_id.as_str());
    assert_eq!(edges[0]["node"]["content"], "hello team");
    assert!(edges[0]["node"]["deletedAt"].is_null());

    let a_threads = app
        .gql_ok(
            Some(&a.keys.secret_key),
            "{ threads(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(node_ids(&a_threads["threads"]), vec![a.thread_id.clone()]);
    let a_teams = app
        .gql_ok(
            Some(&a.keys.secret_key),
            "{ teams(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(node_ids(&a_teams["teams"]), vec![a.team_id.clone()]);
}

#[tokio::test]
async fn app_b_secret_key_cannot_reach_app_a_ids() {
    let t = two_apps().await;
    let mut failures = Vec::new();
    let mut all = attempts(&t, true);
    all.extend(secret_only_attempts(&t));
    let count = all.len();
    for (name, query, variables, root) in all {
        let response = t.app.gql(Some(&t.b_secret), query, variables).await;
        // markThreadRead needs a user: refusing it outright is fine.
        check(
            &mut failures,
            "B secret",
            name,
            root,
            &response,
            name == "markThreadRead",
        );
    }
    assert_eq!(count, 23);
    assert!(
        failures.is_empty(),
        "{} leaks:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_a_is_untouched(&t).await;
}

#[tokio::test]
async fn app_b_user_cannot_reach_app_a_ids() {
    let t = two_apps().await;
    let mut failures = Vec::new();
    let all = attempts(&t, false);
    let count = all.len();
    for (name, query, variables, root) in all {
        let response = t.app.gql(t.b_user.token(), query, variables).await;
        check(&mut failures, "B user", name, root, &response, false);
    }
    assert_eq!(count, 20);
    assert!(
        failures.is_empty(),
        "{} leaks:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_a_is_untouched(&t).await;
}

#[tokio::test]
async fn node_hides_every_kind_of_app_a_id() {
    let t = two_apps().await;
    let a = &t.a;
    let ids = [
        ("app", a.keys.app_id.clone()),
        ("user", a.owner.user_id.clone()),
        ("team", a.team_id.clone()),
        ("thread", a.thread_id.clone()),
        ("message", a.message_id.clone()),
    ];
    let query = "query($id: ID!) { node(id: $id) { id } }";
    for credential in [t.b_secret.as_str(), t.b_user.access_token.as_str()] {
        for (kind, id) in &ids {
            let response = t
                .app
                .gql(Some(credential), query, json!({ "id": id }))
                .await;
            let code = error_code(&response);
            assert!(
                code.is_none() || code.as_deref() == Some("NOT_FOUND"),
                "node({kind}) from B: {response}"
            );
            assert!(
                response["data"].is_null() || response["data"]["node"].is_null(),
                "node({kind}) from B returned data: {response}"
            );
        }
    }
    // The same IDs resolve inside A (so the test is not passing vacuously).
    for (kind, id) in &ids {
        let data = t
            .app
            .gql_ok(Some(&a.keys.secret_key), query, json!({ "id": id }))
            .await;
        assert_eq!(data["node"]["id"], id.as_str(), "node({kind}) in A");
    }
}

#[tokio::test]
async fn app_b_lists_contain_nothing_of_app_a() {
    let t = two_apps().await;
    let a = &t.a;
    let a_ids = [
        a.owner.user_id.clone(),
        a.admin.user_id.clone(),
        a.member.user_id.clone(),
        a.author.user_id.clone(),
        a.outsider.user_id.clone(),
        a.team_id.clone(),
        a.thread_id.clone(),
    ];
    for credential in [t.b_secret.as_str(), t.b_user.access_token.as_str()] {
        let data = t
            .app
            .gql_ok(
                Some(credential),
                "{ teams(first: 100) { edges { node { id } } } threads(first: 100) { edges { node { id } } } users(first: 100) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        let teams = node_ids(&data["teams"]);
        let threads = node_ids(&data["threads"]);
        let users = node_ids(&data["users"]);
        assert_eq!(teams, vec![t.b_team.clone()]);
        assert_eq!(threads, vec![t.b_thread.clone()]);
        assert_eq!(users, vec![t.b_user.user_id.clone()]);
        for id in &a_ids {
            assert!(!teams.contains(id) && !threads.contains(id) && !users.contains(id));
        }
        let search = t
            .app
            .gql_ok(
                Some(credential),
                "query($s: String) { users(search: $s) { edges { node { id } } } }",
                json!({ "s": "Olive" }),
            )
            .await;
        assert!(
            node_ids(&search["users"]).is_empty(),
            "search found A's user"
        );
    }
}

#[tokio::test]
async fn app_a_credentials_do_not_work_in_app_b() {
    let t = two_apps().await;
    let a = &t.a;
    // An invitation code of A, used by a user of B with the invited email.
    let code = t
        .app
        .invite(&a.owner.access_token, &a.team_id, &t.b_user.email, "MEMBER")
        .await;
    let response = t
        .app
        .gql(
            t.b_user.token(),
            JOIN_TEAM,
            json!({ "input": { "code": code } }),
        )
        .await;
    assert_eq!(
        error_code(&response).as_deref(),
        Some("NOT_FOUND"),
        "{response}"
    );
    assert!(response["data"].is_null() || response["data"]["joinTeam"].is_null());

    // A's refresh token through B's publishable key.
    let refresh = t
        .app
        .gql(
            Some(&t.b_publishable),
            REFRESH_SESSION,
            json!({ "input": { "refreshToken": a.member.refresh_token } }),
        )
        .await;
    assert_eq!(
        error_code(&refresh).as_deref(),
        Some("UNAUTHENTICATED"),
        "{refresh}"
    );

    // A's user logging in through B.
    let log_in = t
        .app
        .gql(
            Some(&t.b_publishable),
            LOG_IN,
            json!({ "input": { "email": a.member.email, "password": PASSWORD } }),
        )
        .await;
    assert_eq!(
        error_code(&log_in).as_deref(),
        Some("UNAUTHENTICATED"),
        "{log_in}"
    );

    // A's access token still answers as A.
    let viewer = t
        .app
        .gql_ok(a.member.token(), "{ viewer { app { id } } }", json!({}))
        .await;
    assert_eq!(viewer["viewer"]["app"]["id"], a.keys.app_id.as_str());
}

/// The app a secret key belongs to.
async fn app_id_of(app: &TestApp, secret_key: &str) -> String {
    let data = app
        .gql_ok(Some(secret_key), "{ viewer { app { id } } }", json!({}))
        .await;
    data["viewer"]["app"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn webhooks_and_their_deliveries_stay_in_their_app() {
    use crate::webhooks::{
        DELETE_WEBHOOK, REDELIVER, ROTATE_SECRET, UPDATE_WEBHOOK, WEBHOOKS, create_webhook,
    };
    use orbit_tests::webhook_receiver::WebhookReceiver;

    let t = two_apps().await;
    let app = &t.app;
    let a_secret = t.a.keys.secret_key.as_str();
    let a_app = t.a.keys.app_id.clone();
    let b_app = app_id_of(app, &t.b_secret).await;
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let (a_hook, a_signing) =
        create_webhook(app, a_secret, &receiver.url(), &["message.created"]).await;
    let (b_hook, b_signing) =
        create_webhook(app, &t.b_secret, &receiver.url(), &["message.created"]).await;
    receiver.trust(&a_signing);
    receiver.trust(&b_signing);

    // A message in each app reaches that app's webhook only.
    app.send_message(&t.a.author.access_token, &t.a.thread_id, "in A")
        .await;
    app.send_message(&t.b_user.access_token, &t.b_thread, "in B")
        .await;
    let mut bodies = [receiver.next().await, receiver.next().await];
    bodies.sort_by_key(|got| got.json()["data"]["content"].as_str().unwrap().to_owned());
    let (in_a, in_b) = (&bodies[0], &bodies[1]);
    assert_eq!(in_a.json()["appId"], a_app.as_str());
    assert_eq!(in_a.verified_by, [0], "signed with A's secret only");
    assert_eq!(in_b.json()["appId"], b_app.as_str());
    assert_eq!(in_b.verified_by, [1], "signed with B's secret only");

    let deliveries = "query($id: ID!, $appId: ID) { webhook(id: $id, appId: $appId) { url deliveries(first: 10) { edges { node { id payload } } } } }";
    let a_deliveries = app
        .gql_ok(Some(a_secret), deliveries, json!({ "id": a_hook }))
        .await;
    let a_edges = a_deliveries["webhook"]["deliveries"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(a_edges.len(), 1);
    assert_eq!(a_edges[0]["node"]["payload"]["appId"], a_app.as_str());
    let a_delivery = a_edges[0]["node"]["id"].as_str().unwrap().to_owned();

    // B's secret key, and a developer of B, reach none of it.
    let b_owner = app.developer(&b_app, "owner").await;
    for (who, credential, app_id) in [
        ("B secret", t.b_secret.as_str(), None),
        (
            "B secret naming A",
            t.b_secret.as_str(),
            Some(a_app.as_str()),
        ),
        (
            "B developer",
            b_owner.access_token.as_str(),
            Some(b_app.as_str()),
        ),
        (
            "B developer naming A",
            b_owner.access_token.as_str(),
            Some(a_app.as_str()),
        ),
    ] {
        let attempts = [
            (
                "webhook",
                deliveries,
                json!({ "id": a_hook, "appId": app_id }),
            ),
            (
                "updateWebhook",
                UPDATE_WEBHOOK,
                json!({ "input": { "id": a_hook, "appId": app_id, "url": "https://example.com/pwned" } }),
            ),
            (
                "rotateWebhookSecret",
                ROTATE_SECRET,
                json!({ "input": { "id": a_hook, "appId": app_id } }),
            ),
            (
                "redeliverWebhookDelivery",
                REDELIVER,
                json!({ "input": { "id": a_delivery, "appId": app_id } }),
            ),
            (
                "deleteWebhook",
                DELETE_WEBHOOK,
                json!({ "input": { "id": a_hook, "appId": app_id } }),
            ),
        ];
        for (name, query, variables) in attempts {
            let response = app.gql(Some(credential), query, variables).await;
            assert_eq!(
                error_code(&response).as_deref(),
                Some("NOT_FOUND"),
                "{who}: {name}: {response}"
            );
            assert!(response["data"].is_null() || response["data"][name].is_null());
        }
        let listed = app
            .gql(Some(credential), WEBHOOKS, json!({ "appId": app_id }))
            .await;
        if app_id == Some(a_app.as_str()) {
            assert_eq!(
                error_code(&listed).as_deref(),
                Some("NOT_FOUND"),
                "{who}: {listed}"
            );
        } else {
            assert_eq!(
                node_ids(&listed["data"]["webhooks"]),
                std::slice::from_ref(&b_hook),
                "{who}"
            );
        }
    }

    // A's webhook is as it was, with its one delivery.
    let after = app
        .gql_ok(Some(a_secret), deliveries, json!({ "id": a_hook }))
        .await;
    assert_eq!(after["webhook"]["url"], receiver.url().as_str());
    assert_eq!(
        after["webhook"]["deliveries"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
