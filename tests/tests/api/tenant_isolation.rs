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

/// App B (its secret key, a user, a developer of B) against A's agents,
/// providers and replies: all answer as if they did not exist.
#[tokio::test]
async fn app_b_cannot_reach_app_a_agents() {
    let t = two_apps().await;
    let a = &t.a;
    let app = &t.app;
    let sk = a.keys.secret_key.as_str();
    let provider = app
        .gql_ok(Some(sk), "mutation { createModelProvider(input: {name: \"P\", kind: SCRIPTED}) { modelProvider { id } } }", json!({}))
        .await["createModelProvider"]["modelProvider"]["id"]
        .clone();
    let agent = app
        .gql_ok(Some(sk), "mutation($input: CreateAgentInput!) { createAgent(input: $input) { agent { id } } }", json!({ "input": { "name": "A", "handle": "helper", "model": { "provider": provider, "model": "m" } } }))
        .await["createAgent"]["agent"]["id"]
        .clone();
    app.gql_ok(
        Some(sk),
        ADD_THREAD_PARTICIPANT,
        json!({ "input": { "threadId": a.thread_id, "agentId": agent } }),
    )
    .await;
    let sent = app
        .gql_ok(a.author.token(), "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { agentReplies { id } } } }", json!({ "input": { "threadId": a.thread_id, "content": "hi" } }))
        .await;
    let reply = sent["sendMessage"]["message"]["agentReplies"][0]["id"].clone();
    let b_app_id = app
        .gql_ok(Some(&t.b_secret), "{ app { id } }", json!({}))
        .await["app"]["id"]
        .clone();
    let b_developer = app.developer(b_app_id.as_str().unwrap(), "owner").await;
    let a_developer_of_b = |as_developer: bool| {
        if as_developer {
            b_app_id.clone()
        } else {
            Value::Null
        }
    };

    let mut failures = Vec::new();
    for (who, credential, as_developer) in [
        ("B secret", t.b_secret.clone(), false),
        ("B user", t.b_user.access_token.clone(), false),
        ("B developer", b_developer.access_token.clone(), true),
    ] {
        let b_app = a_developer_of_b(as_developer);
        let attempts: Vec<(&str, &str, Value, &str)> = vec![
            (
                "agent",
                "query($id: ID!, $a: ID) { agent(id: $id, appId: $a) { id } }",
                json!({ "id": agent, "a": b_app }),
                "agent",
            ),
            (
                "updateAgent",
                "mutation($input: UpdateAgentInput!) { updateAgent(input: $input) { agent { id } } }",
                json!({ "input": { "id": agent, "name": "Pwned", "appId": b_app } }),
                "updateAgent",
            ),
            (
                "deleteAgent",
                "mutation($input: DeleteAgentInput!) { deleteAgent(input: $input) { deletedAgentId } }",
                json!({ "input": { "id": agent, "appId": b_app } }),
                "deleteAgent",
            ),
            (
                "modelProvider",
                "query($id: ID!, $a: ID) { modelProvider(id: $id, appId: $a) { id } }",
                json!({ "id": provider, "a": b_app }),
                "modelProvider",
            ),
            (
                "updateModelProvider",
                "mutation($input: UpdateModelProviderInput!) { updateModelProvider(input: $input) { modelProvider { id } } }",
                json!({ "input": { "id": provider, "name": "Pwned", "appId": b_app } }),
                "updateModelProvider",
            ),
            (
                "deleteModelProvider",
                "mutation($input: DeleteModelProviderInput!) { deleteModelProvider(input: $input) { deletedModelProviderId } }",
                json!({ "input": { "id": provider, "appId": b_app } }),
                "deleteModelProvider",
            ),
            (
                "createAgent(A provider)",
                "mutation($input: CreateAgentInput!) { createAgent(input: $input) { agent { id } } }",
                json!({ "input": { "name": "B", "handle": "thief", "model": { "provider": provider, "model": "m" }, "appId": b_app } }),
                "createAgent",
            ),
            (
                "addThreadParticipant(A agent)",
                ADD_THREAD_PARTICIPANT,
                json!({ "input": { "threadId": t.b_thread, "agentId": agent } }),
                "addThreadParticipant",
            ),
            (
                "agentReply",
                "query($id: ID!) { agentReply(id: $id) { id } }",
                json!({ "id": reply }),
                "agentReply",
            ),
            (
                "cancelAgentReply",
                "mutation($input: CancelAgentReplyInput!) { cancelAgentReply(input: $input) { reply { id } } }",
                json!({ "input": { "replyId": reply, "appId": b_app } }),
                "cancelAgentReply",
            ),
            (
                "agent(A app)",
                "query($id: ID!, $a: ID) { agent(id: $id, appId: $a) { id } }",
                json!({ "id": agent, "a": a.keys.app_id }),
                "agent",
            ),
        ];
        for (name, query, variables, root) in attempts {
            if as_developer && matches!(name, "addThreadParticipant(A agent)" | "agentReply") {
                continue; // Developers have no threads in B.
            }
            let response = app.gql(Some(&credential), query, variables).await;
            // A user of B is no developer: refusing outright is fine.
            let forbidden_allowed = who == "B user"
                && !matches!(
                    name,
                    "agent" | "agentReply" | "addThreadParticipant(A agent)"
                );
            check(&mut failures, who, name, root, &response, forbidden_allowed);
        }
    }
    assert!(
        failures.is_empty(),
        "{} leaks:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let agents = app
        .gql_ok(
            Some(sk),
            "{ agents { edges { node { id name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(agents["agents"]["edges"][0]["node"]["name"], "A");
    let b_agents = app
        .gql_ok(
            Some(&t.b_secret),
            "{ agents { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(b_agents["agents"]["edges"], json!([]));
}

#[tokio::test]
async fn another_apps_developer_and_secret_key_reach_nothing_of_its_configuration() {
    let app = orbit_tests::spawn_console_app().await;
    let a_owner = app.sign_up_developer("a-owner").await;
    let a = app.create_app_as(&a_owner.access_token, "A").await;
    let b_owner = app.sign_up_developer("b-owner").await;
    let b = app.create_app_as(&b_owner.access_token, "B").await;
    let a_view = "query($id: ID!) { app(id: $id) { name members { edges { node { role } } } apiKeys { edges { node { id kind revokedAt } } } signingKeys { edges { node { version } } } settings { passwordLogin } } }";
    let seen = app
        .gql_ok(a_owner.token(), a_view, json!({ "id": a.app_id }))
        .await;
    let a_key = seen["app"]["apiKeys"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    const SET_ROLE: &str = "mutation($input: SetAppMemberRoleInput!) { setAppMemberRole(input: $input) { member { role } } }";
    const REMOVE: &str = "mutation($input: RemoveAppMemberInput!) { removeAppMember(input: $input) { removedUserId } }";
    const ROTATE: &str = "mutation($input: RotateSigningKeyInput!) { rotateSigningKey(input: $input) { signingKey { kid } } }";
    let (a_id, b_id) = (a.app_id.as_str(), b.app_id.as_str());
    let owner_id = a_owner.user_id.as_str();
    // (who, what, query, variables, the field at fault)
    let attempts: Vec<(&str, &str, &str, Value, &str)> = vec![
        (
            "B's developer",
            "app(id: A)",
            a_view,
            json!({ "id": a_id }),
            "id",
        ),
        (
            "B's developer",
            "updateApp(A)",
            "mutation($input: UpdateAppInput!) { updateApp(input: $input) { app { id } } }",
            json!({ "input": { "appId": a_id, "name": "Pwned" } }),
            "appId",
        ),
        (
            "B's developer",
            "updateAppSettings(A)",
            orbit_tests::UPDATE_APP_SETTINGS,
            json!({ "input": { "appId": a_id, "passwordLogin": false } }),
            "appId",
        ),
        (
            "B's developer",
            "deleteApp(A)",
            "mutation($input: DeleteAppInput!) { deleteApp(input: $input) { deletedAppId } }",
            json!({ "input": { "appId": a_id } }),
            "appId",
        ),
        (
            "B's developer",
            "addAppMember(A)",
            orbit_tests::ADD_APP_MEMBER,
            json!({ "input": { "appId": a_id, "email": b_owner.email, "role": "OWNER" } }),
            "appId",
        ),
        (
            "B's developer",
            "setAppMemberRole(A)",
            SET_ROLE,
            json!({ "input": { "appId": a_id, "userId": owner_id, "role": "VIEWER" } }),
            "appId",
        ),
        (
            "B's developer",
            "setAppMemberRole(B, A's owner)",
            SET_ROLE,
            json!({ "input": { "appId": b_id, "userId": owner_id, "role": "VIEWER" } }),
            "userId",
        ),
        (
            "B's developer",
            "removeAppMember(A)",
            REMOVE,
            json!({ "input": { "appId": a_id, "userId": owner_id } }),
            "appId",
        ),
        (
            "B's developer",
            "removeAppMember(B, A's owner)",
            REMOVE,
            json!({ "input": { "appId": b_id, "userId": owner_id } }),
            "userId",
        ),
        (
            "B's developer",
            "createApiKey(A)",
            orbit_tests::CREATE_API_KEY,
            json!({ "input": { "appId": a_id, "kind": "SECRET", "name": "Mine" } }),
            "appId",
        ),
        (
            "B's developer",
            "revokeApiKey(A, A's key)",
            orbit_tests::REVOKE_API_KEY,
            json!({ "input": { "appId": a_id, "id": a_key } }),
            "appId",
        ),
        (
            "B's developer",
            "revokeApiKey(B, A's key)",
            orbit_tests::REVOKE_API_KEY,
            json!({ "input": { "appId": b_id, "id": a_key } }),
            "id",
        ),
        (
            "B's developer",
            "rotateSigningKey(A)",
            ROTATE,
            json!({ "input": { "appId": a_id } }),
            "appId",
        ),
        (
            "B's secret key",
            "app(id: A)",
            a_view,
            json!({ "id": a_id }),
            "id",
        ),
        (
            "B's secret key",
            "updateApp(A)",
            "mutation($input: UpdateAppInput!) { updateApp(input: $input) { app { id } } }",
            json!({ "input": { "appId": a_id, "name": "Pwned" } }),
            "appId",
        ),
        (
            "B's secret key",
            "updateAppSettings(A)",
            orbit_tests::UPDATE_APP_SETTINGS,
            json!({ "input": { "appId": a_id, "passwordLogin": false } }),
            "appId",
        ),
    ];
    let mut leaks = Vec::new();
    for (who, what, query, variables, field) in attempts {
        let credential = match who {
            "B's developer" => b_owner.access_token.as_str(),
            _ => b.secret_key.as_str(),
        };
        let response = app.gql(Some(credential), query, variables).await;
        let field_at_fault = response["errors"][0]["extensions"]["details"]["field"].as_str();
        if error_code(&response).as_deref() != Some("NOT_FOUND") || field_at_fault != Some(field) {
            leaks.push(format!("{who} {what}: {response}"));
        }
    }
    // node() hides it too.
    let node = app
        .gql_ok(
            b_owner.token(),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": a_id }),
        )
        .await;
    if !node["node"].is_null() {
        leaks.push(format!("node(A) as B's developer: {node}"));
    }
    assert!(
        leaks.is_empty(),
        "{} leak:\n{}",
        leaks.len(),
        leaks.join("\n")
    );

    // A is as it was.
    let after = app
        .gql_ok(a_owner.token(), a_view, json!({ "id": a.app_id }))
        .await;
    assert_eq!(after, seen);
    let viewer = app
        .gql_ok(
            Some(&a.publishable_key),
            "{ viewer { app { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(viewer["viewer"]["app"]["id"], a_id);
}

/// App B's secret key, B's owner (a developer) and B's publishable key
/// against app A's identity provider: as if it did not exist.
#[tokio::test]
async fn app_b_cannot_reach_app_a_identity_providers() {
    let app = spawn_app().await;
    let a = app.create_app("A").await;
    let b_owner_email = orbit_tests::email("b-owner");
    let b = app
        .create_app_with_owner("B", &b_owner_email, PASSWORD)
        .await;
    let b_developer = app.log_in_with(None, &b_owner_email).await;
    let created = app
        .gql_ok(
            Some(&a.secret_key),
            "mutation($input: CreateIdentityProviderInput!) { createIdentityProvider(input: $input) { identityProvider { id } } }",
            json!({ "input": {
                "slug": "a-idp", "preset": "CUSTOM", "clientId": "a-client", "clientSecret": "a-secret",
                "authorizationUrl": "https://idp.example/authorize",
                "tokenUrl": "https://idp.example/token",
                "userinfoUrl": "https://idp.example/userinfo",
            } }),
        )
        .await;
    let id = created["createIdentityProvider"]["identityProvider"]["id"].clone();
    let update = "mutation($input: UpdateIdentityProviderInput!) { updateIdentityProvider(input: $input) { identityProvider { id } } }";
    let delete = "mutation($input: DeleteIdentityProviderInput!) { deleteIdentityProvider(input: $input) { deletedIdentityProviderId } }";
    let list = "query($appId: ID) { identityProviders(appId: $appId) { id } }";
    let mut failures = Vec::new();
    for (who, credential, app_id) in [
        ("B secret", b.secret_key.as_str(), None),
        (
            "B secret naming A",
            b.secret_key.as_str(),
            Some(a.app_id.as_str()),
        ),
        (
            "B developer naming A",
            b_developer.access_token.as_str(),
            Some(a.app_id.as_str()),
        ),
    ] {
        let mut attempts = vec![
            (
                "updateIdentityProvider",
                update,
                json!({ "input": { "appId": app_id, "id": id, "clientId": "hijacked" } }),
            ),
            (
                "deleteIdentityProvider",
                delete,
                json!({ "input": { "appId": app_id, "id": id } }),
            ),
        ];
        if app_id.is_some() {
            attempts.push(("identityProviders", list, json!({ "appId": app_id })));
        }
        for (root, query, variables) in attempts {
            let response = app.gql(Some(credential), query, variables).await;
            check(&mut failures, who, root, root, &response, false);
        }
    }
    // B's own list has nothing of A's.
    let own = app
        .gql_ok(
            Some(&b.secret_key),
            "{ identityProviders { id } }",
            json!({}),
        )
        .await;
    assert_eq!(own["identityProviders"], json!([]));
    // A front end of B cannot start a login with A's provider.
    let start = app
        .gql(
            Some(&b.publishable_key),
            "mutation($input: StartOAuthLoginInput!) { startOAuthLogin(input: $input) { authorizationUrl } }",
            json!({ "input": { "provider": "a-idp", "redirectUrl": "https://app.example/" } }),
        )
        .await;
    check(
        &mut failures,
        "B publishable",
        "startOAuthLogin",
        "startOAuthLogin",
        &start,
        false,
    );
    assert!(
        failures.is_empty(),
        "{} leaks:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let a_providers = app
        .gql_ok(
            Some(&a.secret_key),
            "{ identityProviders { id clientId } }",
            json!({}),
        )
        .await;
    assert_eq!(
        a_providers["identityProviders"],
        json!([{ "id": id, "clientId": "a-client" }])
    );
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

/// App B (its secret key, a user, a developer of B) against A's routines
/// and runs, and with A's agent and thread in B's routines: all answer as
/// if they did not exist; A's run events stay A's.
#[tokio::test]
async fn app_b_cannot_reach_app_a_routines() {
    let t = two_apps().await;
    let a = &t.a;
    let app = &t.app;
    let sk = a.keys.secret_key.as_str();
    let agent_of = |secret: &str| {
        let secret = secret.to_owned();
        async move {
            let provider = app
                .gql_ok(Some(&secret), "mutation { createModelProvider(input: {name: \"P\", kind: SCRIPTED}) { modelProvider { id } } }", json!({}))
                .await["createModelProvider"]["modelProvider"]["id"]
                .clone();
            app.gql_ok(Some(&secret), "mutation($input: CreateAgentInput!) { createAgent(input: $input) { agent { id } } }", json!({ "input": { "name": "A", "handle": "helper", "model": { "provider": provider, "model": "m" } } }))
                .await["createAgent"]["agent"]["id"]
                .clone()
        }
    };
    let agent = agent_of(sk).await;
    let b_agent = agent_of(&t.b_secret).await;
    let create =
        "mutation($input: CreateRoutineInput!) { createRoutine(input: $input) { routine { id } } }";
    let routine = app
        .gql_ok(
            Some(sk),
            create,
            json!({ "input": { "agentId": agent, "name": "A's", "trigger": { "interval": { "seconds": 3600 } },
                "action": { "postMessage": { "threadId": a.thread_id, "content": "hi" } } } }),
        )
        .await["createRoutine"]["routine"]["id"]
        .clone();
    let run = app
        .gql_ok(
            Some(sk),
            "mutation($input: RunRoutineInput!) { runRoutine(input: $input) { run { id } } }",
            json!({ "input": { "id": routine, "idempotencyKey": "a-key" } }),
        )
        .await["runRoutine"]["run"]["id"]
        .clone();
    let b_app_id = app
        .gql_ok(Some(&t.b_secret), "{ app { id } }", json!({}))
        .await["app"]["id"]
        .clone();
    let b_developer = app.developer(b_app_id.as_str().unwrap(), "owner").await;

    let mut failures = Vec::new();
    for (who, credential, as_developer) in [
        ("B secret", t.b_secret.clone(), false),
        ("B user", t.b_user.access_token.clone(), false),
        ("B developer", b_developer.access_token.clone(), true),
    ] {
        let b_app = if as_developer {
            b_app_id.clone()
        } else {
            Value::Null
        };
        let by_id = json!({ "input": { "id": routine, "appId": b_app } });
        let in_b = |trigger: Value, action: Value, agent: &Value| json!({ "input": { "agentId": agent, "name": "B's", "trigger": trigger, "action": action, "appId": b_app } });
        let hourly = json!({ "interval": { "seconds": 3600 } });
        let attempts: Vec<(&str, &str, Value, &str)> = vec![
            (
                "routine",
                "query($id: ID!, $a: ID) { routine(id: $id, appId: $a) { id } }",
                json!({ "id": routine, "a": b_app }),
                "routine",
            ),
            (
                "routineRun",
                "query($id: ID!, $a: ID) { routineRun(id: $id, appId: $a) { id } }",
                json!({ "id": run, "a": b_app }),
                "routineRun",
            ),
            (
                "routines(A agent)",
                "query($agent: ID, $a: ID) { routines(agentId: $agent, appId: $a) { edges { node { id } } } }",
                json!({ "agent": agent, "a": b_app }),
                "routines",
            ),
            (
                "updateRoutine",
                "mutation($input: UpdateRoutineInput!) { updateRoutine(input: $input) { routine { id } } }",
                json!({ "input": { "id": routine, "name": "Pwned", "appId": b_app } }),
                "updateRoutine",
            ),
            (
                "activateRoutine",
                "mutation($input: RoutineIdInput!) { activateRoutine(input: $input) { routine { id } } }",
                by_id.clone(),
                "activateRoutine",
            ),
            (
                "pauseRoutine",
                "mutation($input: RoutineIdInput!) { pauseRoutine(input: $input) { routine { id } } }",
                by_id.clone(),
                "pauseRoutine",
            ),
            (
                "runRoutine",
                "mutation($input: RunRoutineInput!) { runRoutine(input: $input) { run { id } } }",
                by_id.clone(),
                "runRoutine",
            ),
            (
                "deleteRoutine",
                "mutation($input: RoutineIdInput!) { deleteRoutine(input: $input) { deletedRoutineId } }",
                by_id.clone(),
                "deleteRoutine",
            ),
            (
                "createRoutine(A agent)",
                create,
                in_b(
                    hourly.clone(),
                    json!({ "postMessage": { "threadId": t.b_thread, "content": "x" } }),
                    &agent,
                ),
                "createRoutine",
            ),
            (
                "createRoutine(A thread)",
                create,
                in_b(
                    hourly.clone(),
                    json!({ "promptAgent": { "threadId": a.thread_id, "prompt": "x" } }),
                    &b_agent,
                ),
                "createRoutine",
            ),
            (
                "createRoutine(A team filter)",
                create,
                in_b(
                    json!({ "event": { "type": "message.created", "teamId": a.team_id } }),
                    json!({ "postMessage": { "threadId": t.b_thread, "content": "x" } }),
                    &b_agent,
                ),
                "createRoutine",
            ),
            (
                "routine(A app)",
                "query($id: ID!, $a: ID) { routine(id: $id, appId: $a) { id } }",
                json!({ "id": routine, "a": a.keys.app_id }),
                "routine",
            ),
        ];
        for (name, query, variables, root) in attempts {
            let response = app.gql(Some(&credential), query, variables).await;
            // A user of B is no developer: refusing outright is fine.
            check(&mut failures, who, name, root, &response, who == "B user");
        }
    }
    // B's key reused in B is B's own: no conflict with A's run.
    let b_routine = app
        .gql_ok(
            Some(&t.b_secret),
            create,
            json!({ "input": { "agentId": b_agent, "name": "B's", "trigger": { "interval": { "seconds": 3600 } },
                "action": { "postMessage": { "threadId": t.b_thread, "content": "x" } } } }),
        )
        .await["createRoutine"]["routine"]["id"]
        .clone();
    app.gql_ok(
        Some(&t.b_secret),
        "mutation($input: RunRoutineInput!) { runRoutine(input: $input) { run { id } } }",
        json!({ "input": { "id": b_routine, "idempotencyKey": "a-key" } }),
    )
    .await;
    // B's subscription to A's runs is refused.
    let mut client = orbit_tests::ws::WsClient::connected(&app.ws_url(), Some(&t.b_secret)).await;
    client
        .subscribe(
            "a",
            "subscription($a: ID) { appEvents(appId: $a) { ... on Event { type } } }",
            json!({ "a": a.keys.app_id }),
        )
        .await;
    let errors = client.expect_error("a").await;
    if errors[0]["extensions"]["code"] != "NOT_FOUND" {
        failures.push(format!("B secret appEvents(A): {errors}"));
    }
    assert!(
        failures.is_empty(),
        "{} leaks:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let listed = app
        .gql_ok(
            Some(&t.b_secret),
            "{ routines { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        node_ids(&listed["routines"]),
        vec![b_routine.as_str().unwrap().to_owned()]
    );
    let a_routine = app
        .gql_ok(
            Some(sk),
            "query($id: ID!) { routine(id: $id) { name status runs { edges { node { id } } } } }",
            json!({ "id": routine }),
        )
        .await;
    assert_eq!(a_routine["routine"]["name"], "A's");
    assert_eq!(a_routine["routine"]["status"], "DRAFT");
    assert_eq!(
        node_ids(&a_routine["routine"]["runs"]),
        vec![run.as_str().unwrap().to_owned()]
    );
}

/// The events table is read by topic when a subscriber resumes or fills a
/// gap; a row of another app stored under the topic (topics name IDs that
/// are unique across apps, so only a fault could put one there) is never
/// shown, live or on resume.
#[tokio::test]
async fn a_row_of_another_app_under_a_topic_is_never_shown_to_its_subscribers() {
    use crate::cluster::{next_message, watching};
    use orbit_domain::entities::event;
    use orbit_domain::events::Topic;
    use orbit_domain::ids::{TeamId, ThreadId};
    use sea_orm::{
        ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    };

    let t = two_apps().await;
    let (app, a) = (&t.app, &t.a);
    let mut live = watching(app, &a.thread_id, a.member.token(), None).await;
    app.send_message(&a.author.access_token, &a.thread_id, "before")
        .await;
    let (_, before) = next_message(&mut live).await;

    let db = app.services.db().conn();
    let a_topic = Topic::Thread(a.thread_id.parse::<ThreadId>().unwrap()).key();
    let b_team_topic = Topic::Team(t.b_team.parse::<TeamId>().unwrap()).key();
    let b_app = event::Entity::find()
        .filter(event::Column::Topic.eq(&b_team_topic))
        .one(db)
        .await
        .unwrap()
        .expect("B's team has events")
        .app_id;
    // B's copy of A's last message, next in A's thread's sequence.
    let mut foreign = event::Entity::find()
        .filter(event::Column::Topic.eq(&a_topic))
        .order_by_desc(event::Column::Seq)
        .one(db)
        .await
        .unwrap()
        .expect("A's thread has events");
    foreign.id = uuid::Uuid::now_v7();
    foreign.app_id = b_app;
    foreign.seq += 1;
    foreign.payload =
        serde_json::from_str(&foreign.payload.to_string().replace("before", "from B")).unwrap();
    event::ActiveModel::from(foreign).insert(db).await.unwrap();
    db.execute_unprepared(&format!(
        "UPDATE topic_sequences SET last_seq = last_seq + 1 WHERE topic = '{a_topic}'"
    ))
    .await
    .unwrap();

    // Live: the next message comes after a skipped number, so the feed reads
    // the table; resuming reads it too.
    app.send_message(&a.author.access_token, &a.thread_id, "after")
        .await;
    assert_eq!(next_message(&mut live).await.0, "after");
    let mut resumed = watching(app, &a.thread_id, a.member.token(), Some(&before)).await;
    assert_eq!(next_message(&mut resumed).await.0, "after");
    for client in [&mut live, &mut resumed] {
        client
            .expect_silence(Some("t"), std::time::Duration::from_millis(300))
            .await;
    }
}
