//! Every operation with every kind of caller. Each cell runs against a fresh
//! team (same users), so destructive operations do not affect other cells.
//! All mismatches are collected and reported together.

use orbit_tests::webhook_receiver::WebhookReceiver;
use orbit_tests::{
    ADD_THREAD_PARTICIPANT, DELETE_MESSAGE, DELETE_TEAM, DELETE_THREAD, EDIT_MESSAGE,
    INVITE_TEAM_MEMBER, People, REMOVE_TEAM_MEMBER, REMOVE_THREAD_PARTICIPANT, SEND_MESSAGE,
    SET_TEAM_MEMBER_ROLE, TEAM, THREAD, TeamWorld, TestApp, UPDATE_TEAM, UPDATE_THREAD, email,
    error_code, spawn_app,
};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Owner,
    Admin,
    Member,
    Outsider,
    Secret,
    Publishable,
    Anonymous,
}

const CALLERS: [Caller; 7] = [
    Caller::Owner,
    Caller::Admin,
    Caller::Member,
    Caller::Outsider,
    Caller::Secret,
    Caller::Publishable,
    Caller::Anonymous,
];

impl Caller {
    fn credential(self, w: &TeamWorld) -> Option<String> {
        match self {
            Caller::Owner => Some(w.owner.access_token.clone()),
            Caller::Admin => Some(w.admin.access_token.clone()),
            Caller::Member => Some(w.member.access_token.clone()),
            Caller::Outsider => Some(w.outsider.access_token.clone()),
            Caller::Secret => Some(w.keys.secret_key.clone()),
            Caller::Publishable => Some(w.keys.publishable_key.clone()),
            Caller::Anonymous => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    ViewTeam,
    RenameTeam,
    DeleteTeam,
    InviteMember,
    InviteAdmin,
    InviteOwner,
    SetRole,
    RemoveMember,
    ViewThread,
    UpdateThread,
    DeleteThread,
    AddParticipant,
    RemoveParticipant,
    SendMessage,
    EditOthersMessage,
    DeleteOthersMessage,
    UpdateAppSettings,
}

const OK: Option<&str> = None;
const FORBIDDEN: Option<&str> = Some("FORBIDDEN");
const NOT_FOUND: Option<&str> = Some("NOT_FOUND");
const UNAUTHENTICATED: Option<&str> = Some("UNAUTHENTICATED");

/// Expected outcome per caller, in the order of [`CALLERS`]:
/// owner, admin, member, outsider, secret key, publishable key, anonymous.
/// `None` is success. The "member" is a plain member who did not write the
/// message nor create the thread (another member, the author, did).
#[rustfmt::skip]
const MATRIX: [(Op, [Option<&str>; 7]); 17] = [
    //                          owner      admin      member     outsider   secret  publishable      anonymous
    (Op::ViewTeam,            [OK,        OK,        OK,        NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::RenameTeam,          [OK,        OK,        FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::DeleteTeam,          [OK,        FORBIDDEN, FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::InviteMember,        [OK,        OK,        FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::InviteAdmin,         [OK,        OK,        FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::InviteOwner,         [OK,        FORBIDDEN, FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::SetRole,             [OK,        FORBIDDEN, FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::RemoveMember,        [OK,        OK,        FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::ViewThread,          [OK,        OK,        OK,        NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::UpdateThread,        [OK,        OK,        FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::DeleteThread,        [OK,        OK,        FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::AddParticipant,      [OK,        OK,        FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::RemoveParticipant,   [OK,        OK,        FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::SendMessage,         [OK,        OK,        OK,        NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::EditOthersMessage,   [FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::DeleteOthersMessage, [OK,        OK,        FORBIDDEN, NOT_FOUND, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
    (Op::UpdateAppSettings,   [FORBIDDEN, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK,     UNAUTHENTICATED, UNAUTHENTICATED]),
];

/// How a cell's answer differs from `expected` (an error code, or `None`
/// for success with data under `root`), if it does.
fn mismatch(response: &Value, root: &str, expected: Option<&str>) -> Option<String> {
    let got = error_code(response);
    let data_ok = match expected {
        None => !response["data"][root].is_null(),
        Some(_) => response["data"].is_null() || response["data"][root].is_null(),
    };
    (got.as_deref() != expected || !data_ok).then(|| {
        format!(
            "expected {}, got {} — {response}",
            expected.unwrap_or("success"),
            got.as_deref().unwrap_or("success"),
        )
    })
}

impl Op {
    /// What must exist before the operation: for RemoveParticipant, the
    /// guest (in no team) is added to the thread by the secret key.
    async fn prepare(self, app: &TestApp, w: &TeamWorld, people: &People) {
        if let Op::RemoveParticipant = self {
            app.gql_ok(
                Some(&w.keys.secret_key),
                ADD_THREAD_PARTICIPANT,
                json!({ "input": { "threadId": w.thread_id, "userId": people.guest.user_id } }),
            )
            .await;
        }
    }

    /// The request, and the root field that holds its result.
    fn request(
        self,
        w: &TeamWorld,
        people: &People,
        caller: Caller,
    ) -> (&'static str, Value, &'static str) {
        let invite = |role: &str| json!({ "input": { "teamId": w.team_id, "email": email("invitee"), "role": role } });
        match self {
            Op::ViewTeam => (TEAM, json!({ "id": w.team_id }), "team"),
            Op::RenameTeam => (
                UPDATE_TEAM,
                json!({ "input": { "id": w.team_id, "name": "Renamed" } }),
                "updateTeam",
            ),
            Op::DeleteTeam => (
                DELETE_TEAM,
                json!({ "input": { "id": w.team_id } }),
                "deleteTeam",
            ),
            Op::InviteMember => (INVITE_TEAM_MEMBER, invite("MEMBER"), "inviteTeamMember"),
            Op::InviteAdmin => (INVITE_TEAM_MEMBER, invite("ADMIN"), "inviteTeamMember"),
            Op::InviteOwner => (INVITE_TEAM_MEMBER, invite("OWNER"), "inviteTeamMember"),
            Op::SetRole => (
                SET_TEAM_MEMBER_ROLE,
                json!({ "input": { "teamId": w.team_id, "userId": w.author.user_id, "role": "ADMIN" } }),
                "setTeamMemberRole",
            ),
            Op::RemoveMember => (
                REMOVE_TEAM_MEMBER,
                json!({ "input": { "teamId": w.team_id, "userId": w.author.user_id } }),
                "removeTeamMember",
            ),
            Op::ViewThread => (THREAD, json!({ "id": w.thread_id }), "thread"),
            Op::UpdateThread => (
                UPDATE_THREAD,
                json!({ "input": { "id": w.thread_id, "title": "Renamed" } }),
                "updateThread",
            ),
            Op::DeleteThread => (
                DELETE_THREAD,
                json!({ "input": { "id": w.thread_id } }),
                "deleteThread",
            ),
            Op::AddParticipant => (
                ADD_THREAD_PARTICIPANT,
                json!({ "input": { "threadId": w.thread_id, "userId": w.member.user_id } }),
                "addThreadParticipant",
            ),
            Op::RemoveParticipant => (
                REMOVE_THREAD_PARTICIPANT,
                json!({ "input": { "threadId": w.thread_id, "userId": people.guest.user_id } }),
                "removeThreadParticipant",
            ),
            Op::SendMessage => {
                let mut input = json!({ "threadId": w.thread_id, "content": "matrix" });
                if caller == Caller::Secret {
                    input["authorId"] = json!(w.author.user_id);
                }
                (SEND_MESSAGE, json!({ "input": input }), "sendMessage")
            }
            Op::EditOthersMessage => (
                EDIT_MESSAGE,
                json!({ "input": { "id": w.message_id, "content": "edited" } }),
                "editMessage",
            ),
            Op::DeleteOthersMessage => (
                DELETE_MESSAGE,
                json!({ "input": { "id": w.message_id } }),
                "deleteMessage",
            ),
            Op::UpdateAppSettings => (
                "mutation($input: UpdateAppSettingsInput!) { updateAppSettings(input: $input) { settings { passwordlessSignUp } } }",
                json!({ "input": { "passwordlessSignUp": true } }),
                "updateAppSettings",
            ),
        }
    }
}

#[tokio::test]
async fn every_operation_with_every_caller() {
    let app = spawn_app().await;
    let people = app.people().await;
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for (op, expectations) in MATRIX {
        for (caller, expected) in CALLERS.into_iter().zip(expectations) {
            let world = app.team_world(&people).await;
            op.prepare(&app, &world, &people).await;
            let (query, variables, root) = op.request(&world, &people, caller);
            let credential = caller.credential(&world);
            let response = app.gql(credential.as_deref(), query, variables).await;
            cells += 1;
            if let Some(mismatch) = mismatch(&response, root, expected) {
                mismatches.push(format!("{op:?} as {caller:?}: {mismatch}"));
            }
        }
    }
    assert_eq!(cells, MATRIX.len() * CALLERS.len());
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[tokio::test]
async fn refused_operations_change_nothing() {
    let app = spawn_app().await;
    let people = app.people().await;
    let w = app.team_world(&people).await;
    // A member tries everything a member may not do.
    for op in [
        Op::RenameTeam,
        Op::DeleteTeam,
        Op::InviteMember,
        Op::SetRole,
        Op::RemoveMember,
        Op::UpdateThread,
        Op::DeleteThread,
        Op::EditOthersMessage,
        Op::DeleteOthersMessage,
        Op::AddParticipant,
    ] {
        let (query, variables, _) = op.request(&w, &people, Caller::Member);
        let response = app.gql(w.member.token(), query, variables).await;
        assert_eq!(
            error_code(&response).as_deref(),
            Some("FORBIDDEN"),
            "{op:?}: {response}"
        );
    }
    let team = app
        .gql_ok(w.owner.token(), TEAM, json!({ "id": w.team_id }))
        .await;
    assert_eq!(team["team"]["name"], "Crew");
    assert_eq!(
        team["team"]["members"]["edges"].as_array().unwrap().len(),
        4
    );
    let roles: Vec<&str> = team["team"]["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["user"]["id"] == w.author.user_id.as_str())
        .map(|e| e["node"]["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["MEMBER"]);
    let thread = app
        .gql_ok(w.owner.token(), THREAD, json!({ "id": w.thread_id }))
        .await;
    assert_eq!(thread["thread"]["title"], "Plans");
    let ids = app
        .message_ids(&w.owner.access_token, &w.thread_id, 10)
        .await;
    assert_eq!(ids, vec![w.message_id.clone()]);
    let content = app
        .gql_ok(
            w.owner.token(),
            "query($id: ID!) { node(id: $id) { ... on Message { content deletedAt } } }",
            json!({ "id": w.message_id }),
        )
        .await;
    assert_eq!(content["node"]["content"], "hello team");
    assert!(content["node"]["deletedAt"].is_null());
}

/// Everything that needs a user or the secret key, asked with a publishable
/// key and with no credentials at all.
#[tokio::test]
async fn keys_without_a_user_are_unauthenticated_everywhere() {
    let app = spawn_app().await;
    let people = app.people().await;
    let w = app.team_world(&people).await;
    let node = "query($id: ID!) { node(id: $id) { id } }";
    let requests: Vec<(&str, &str, Value)> = vec![
        (
            "user",
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": w.owner.user_id }),
        ),
        ("node(team)", node, json!({ "id": w.team_id })),
        ("node(thread)", node, json!({ "id": w.thread_id })),
        ("node(message)", node, json!({ "id": w.message_id })),
        // Not found and hidden must not differ: an unknown id answers the same.
        (
            "node(missing message)",
            node,
            json!({ "id": orbit_tests::missing_id("msg") }),
        ),
        (
            "node(missing team)",
            node,
            json!({ "id": orbit_tests::missing_id("team") }),
        ),
        (
            "threads(teamId)",
            "query($t: ID) { threads(teamId: $t) { edges { node { id } } } }",
            json!({ "t": w.team_id }),
        ),
        (
            "createTeam",
            orbit_tests::CREATE_TEAM,
            json!({ "input": { "name": "T" } }),
        ),
        (
            "createThread",
            orbit_tests::CREATE_THREAD,
            json!({ "input": { "title": "T", "teamId": w.team_id } }),
        ),
        (
            "joinTeam",
            orbit_tests::JOIN_TEAM,
            json!({ "input": { "code": "inv_x" } }),
        ),
        (
            "markThreadRead",
            orbit_tests::MARK_THREAD_READ,
            json!({ "input": { "threadId": w.thread_id, "messageId": w.message_id } }),
        ),
        (
            "updateProfile",
            "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { user { id } } }",
            json!({ "input": { "displayName": "X" } }),
        ),
        (
            "approveDevice",
            "mutation($input: ApproveDeviceInput!) { approveDevice(input: $input) { approved } }",
            json!({ "input": { "userCode": "BCDF-GHJK", "approve": true } }),
        ),
        (
            "addThreadParticipant",
            ADD_THREAD_PARTICIPANT,
            json!({ "input": { "threadId": w.thread_id, "userId": w.member.user_id } }),
        ),
        (
            "removeThreadParticipant",
            REMOVE_THREAD_PARTICIPANT,
            json!({ "input": { "threadId": w.thread_id, "userId": w.member.user_id } }),
        ),
    ];
    let mut failures = Vec::new();
    for credential in [Some(w.keys.publishable_key.as_str()), None] {
        for (name, query, variables) in &requests {
            let response = app.gql(credential, query, variables.clone()).await;
            if error_code(&response).as_deref() != Some("UNAUTHENTICATED") {
                let who = if credential.is_some() {
                    "publishable"
                } else {
                    "anonymous"
                };
                failures.push(format!("{name} as {who}: {response}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The agent operations with every kind of caller: the app's developers by
/// role, its secret key, a user of the app, the keys without a user, and a
/// developer of another app.
#[tokio::test]
async fn agent_operations_with_every_caller() {
    const PROVIDER: &str = "mutation($input: CreateModelProviderInput!) { createModelProvider(input: $input) { modelProvider { id } } }";
    const AGENT: &str =
        "mutation($input: CreateAgentInput!) { createAgent(input: $input) { agent { id } } }";
    // Replies stay queued: there is no worker to answer them.
    let app = orbit_tests::spawn_app_with(|s| s.run_worker = false).await;
    let w = app.new_team_world().await;
    let sk = w.keys.secret_key.clone();
    let app_id = w.keys.app_id.clone();
    let mut callers: Vec<(&str, Option<String>, bool)> = Vec::new();
    for role in ["owner", "admin", "developer", "viewer"] {
        let developer = app.developer(&app_id, role).await;
        callers.push((role, Some(developer.access_token), true));
    }
    let other = app.create_app("Elsewhere").await;
    let stranger = app.developer(&other.app_id, "owner").await;
    callers.push(("secret", Some(sk.clone()), false));
    callers.push(("user", Some(w.member.access_token.clone()), false));
    callers.push(("publishable", Some(w.keys.publishable_key.clone()), false));
    callers.push(("anonymous", None, false));
    callers.push(("stranger", Some(stranger.access_token), true));

    const U: Option<&str> = Some("UNAUTHENTICATED");
    #[rustfmt::skip]
    let matrix: [(&str, [Option<&str>; 9]); 9] = [
        //                  owner admin developer viewer     secret user       publishable anonymous stranger
        ("agents",          [OK,  OK,   OK,       OK,        OK,    OK,        U,          U,        NOT_FOUND]),
        ("agent",           [OK,  OK,   OK,       OK,        OK,    OK,        U,          U,        NOT_FOUND]),
        ("modelProviders",  [OK,  OK,   OK,       OK,        OK,    FORBIDDEN, U,          U,        NOT_FOUND]),
        ("createProvider",  [OK,  OK,   OK,       FORBIDDEN, OK,    FORBIDDEN, U,          U,        NOT_FOUND]),
        ("updateProvider",  [OK,  OK,   OK,       FORBIDDEN, OK,    FORBIDDEN, U,          U,        NOT_FOUND]),
        ("deleteProvider",  [OK,  OK,   OK,       FORBIDDEN, OK,    FORBIDDEN, U,          U,        NOT_FOUND]),
        ("createAgent",     [OK,  OK,   OK,       FORBIDDEN, OK,    FORBIDDEN, U,          U,        NOT_FOUND]),
        ("updateAgent",     [OK,  OK,   OK,       FORBIDDEN, OK,    FORBIDDEN, U,          U,        NOT_FOUND]),
        ("deleteAgent",     [OK,  OK,   OK,       FORBIDDEN, OK,    FORBIDDEN, U,          U,        NOT_FOUND]),
    ];
    let mut mismatches = Vec::new();
    for (op, expectations) in matrix {
        for ((who, credential, names_app), expected) in callers.iter().zip(expectations) {
            let provider = app
                .gql_ok(
                    Some(&sk),
                    PROVIDER,
                    json!({ "input": { "name": "P", "kind": "SCRIPTED" } }),
                )
                .await["createModelProvider"]["modelProvider"]["id"]
                .clone();
            let spare = app
                .gql_ok(
                    Some(&sk),
                    PROVIDER,
                    json!({ "input": { "name": "Spare", "kind": "SCRIPTED" } }),
                )
                .await["createModelProvider"]["modelProvider"]["id"]
                .clone();
            let handle = format!("a{}", uuid::Uuid::new_v4().simple());
            let agent = app
                .gql_ok(Some(&sk), AGENT, json!({ "input": { "name": "A", "handle": &handle[..20], "model": { "provider": provider, "model": "m" } } }))
                .await["createAgent"]["agent"]["id"]
                .clone();
            let app_arg = names_app.then(|| app_id.clone());
            let with_app = |mut input: Value| {
                input["appId"] = json!(app_arg);
                json!({ "input": input })
            };
            let (query, variables, root) = match op {
                "agents" => (
                    "query($a: ID) { agents(appId: $a) { edges { node { id } } } }",
                    json!({ "a": app_arg }),
                    "agents",
                ),
                "agent" => (
                    "query($id: ID!, $a: ID) { agent(id: $id, appId: $a) { id } }",
                    json!({ "id": agent, "a": app_arg }),
                    "agent",
                ),
                "modelProviders" => (
                    "query($a: ID) { modelProviders(appId: $a) { edges { node { id } } } }",
                    json!({ "a": app_arg }),
                    "modelProviders",
                ),
                "createProvider" => (
                    PROVIDER,
                    with_app(json!({ "name": "New", "kind": "SCRIPTED" })),
                    "createModelProvider",
                ),
                "updateProvider" => (
                    "mutation($input: UpdateModelProviderInput!) { updateModelProvider(input: $input) { modelProvider { id } } }",
                    with_app(json!({ "id": provider, "name": "Renamed" })),
                    "updateModelProvider",
                ),
                "deleteProvider" => (
                    "mutation($input: DeleteModelProviderInput!) { deleteModelProvider(input: $input) { deletedModelProviderId } }",
                    with_app(json!({ "id": spare })),
                    "deleteModelProvider",
                ),
                "createAgent" => (
                    AGENT,
                    with_app(
                        json!({ "name": "B", "handle": "bee", "model": { "provider": provider, "model": "m" } }),
                    ),
                    "createAgent",
                ),
                "updateAgent" => (
                    "mutation($input: UpdateAgentInput!) { updateAgent(input: $input) { agent { id } } }",
                    with_app(json!({ "id": agent, "name": "Renamed" })),
                    "updateAgent",
                ),
                _ => (
                    "mutation($input: DeleteAgentInput!) { deleteAgent(input: $input) { deletedAgentId } }",
                    with_app(json!({ "id": agent })),
                    "deleteAgent",
                ),
            };
            let response = app.gql(credential.as_deref(), query, variables).await;
            // Clean up what the cell made, so `bee` can be made again.
            if op == "createAgent"
                && let Some(id) = response["data"]["createAgent"]["agent"]["id"].as_str()
            {
                app.gql_ok(Some(&sk), "mutation($input: DeleteAgentInput!) { deleteAgent(input: $input) { deletedAgentId } }", json!({ "input": { "id": id } })).await;
            }
            let got = error_code(&response);
            let data_ok = match expected {
                None => !response["data"][root].is_null(),
                Some(_) => response["data"].is_null() || response["data"][root].is_null(),
            };
            if got.as_deref() != expected || !data_ok {
                mismatches.push(format!(
                    "{op} as {who}: expected {}, got {response}",
                    expected.unwrap_or("success")
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Adding an agent to a thread and cancelling its reply, with every kind
/// of thread caller.
#[tokio::test]
async fn agent_thread_operations_with_every_caller() {
    let app = orbit_tests::spawn_app_with(|s| s.run_worker = false).await;
    let people = app.people().await;
    let sk = people.keys.secret_key.clone();
    let provider = app
        .gql_ok(Some(&sk), "mutation { createModelProvider(input: {name: \"P\", kind: SCRIPTED}) { modelProvider { id } } }", json!({}))
        .await["createModelProvider"]["modelProvider"]["id"]
        .clone();
    let agent = app
        .gql_ok(Some(&sk), "mutation($input: CreateAgentInput!) { createAgent(input: $input) { agent { id } } }", json!({ "input": { "name": "A", "handle": "helper", "model": { "provider": provider, "model": "m" } } }))
        .await["createAgent"]["agent"]["id"]
        .clone();
    let add = "mutation($input: AddThreadParticipantInput!) { addThreadParticipant(input: $input) { thread { id } } }";
    let cancel = "mutation($input: CancelAgentReplyInput!) { cancelAgentReply(input: $input) { reply { status } } }";
    // owner, admin, member, outsider, secret, publishable, anonymous; and
    // the author, who created the thread (so manages it) and asked.
    #[rustfmt::skip]
    let matrix: [(&str, [Option<&str>; 8]); 3] = [
        ("addAgent",  [OK, OK, FORBIDDEN, NOT_FOUND, OK, UNAUTHENTICATED, UNAUTHENTICATED, OK]),
        // The author asked.
        ("cancel",    [OK, OK, FORBIDDEN, NOT_FOUND, OK, UNAUTHENTICATED, UNAUTHENTICATED, OK]),
        // The member asked: who asked may cancel.
        ("cancelOwn", [OK, OK, OK,        NOT_FOUND, OK, UNAUTHENTICATED, UNAUTHENTICATED, OK]),
    ];
    let mut mismatches = Vec::new();
    for (op, expectations) in matrix {
        for (index, expected) in expectations.into_iter().enumerate() {
            let w = app.team_world(&people).await;
            let credential = match CALLERS.get(index) {
                Some(caller) => caller.credential(&w),
                None => Some(w.author.access_token.clone()),
            };
            let (query, variables, root) = if op == "addAgent" {
                (
                    add,
                    json!({ "input": { "threadId": w.thread_id, "agentId": agent } }),
                    "addThreadParticipant",
                )
            } else {
                app.gql_ok(
                    Some(&sk),
                    add,
                    json!({ "input": { "threadId": w.thread_id, "agentId": agent } }),
                )
                .await;
                let asker = if op == "cancel" { &w.author } else { &w.member };
                let sent = app
                    .gql_ok(asker.token(), "mutation($input: SendMessageInput!) { sendMessage(input: $input) { message { agentReplies { id } } } }", json!({ "input": { "threadId": w.thread_id, "content": "hi" } }))
                    .await;
                let reply = sent["sendMessage"]["message"]["agentReplies"][0]["id"].clone();
                (
                    cancel,
                    json!({ "input": { "replyId": reply } }),
                    "cancelAgentReply",
                )
            };
            let response = app.gql(credential.as_deref(), query, variables).await;
            let got = error_code(&response);
            let data_ok = match expected {
                None => !response["data"][root].is_null(),
                Some(_) => response["data"].is_null() || response["data"][root].is_null(),
            };
            if got.as_deref() != expected || !data_ok {
                mismatches.push(format!(
                    "{op} as caller {index}: expected {}, got {response}",
                    expected.unwrap_or("success")
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Who calls a control-plane operation on an app (made fresh for each
/// cell): its owner, admin, developer and viewer (developers with those
/// roles), a developer of another app only, a user of the app, its keys,
/// and nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ControlCaller {
    Owner,
    Admin,
    Developer,
    Viewer,
    OtherDeveloper,
    AppUser,
    Secret,
    Publishable,
    Anonymous,
}

const CONTROL_CALLERS: [ControlCaller; 9] = [
    ControlCaller::Owner,
    ControlCaller::Admin,
    ControlCaller::Developer,
    ControlCaller::Viewer,
    ControlCaller::OtherDeveloper,
    ControlCaller::AppUser,
    ControlCaller::Secret,
    ControlCaller::Publishable,
    ControlCaller::Anonymous,
];

#[derive(Debug, Clone, Copy)]
enum ControlOp {
    /// `app(id:)` with its members, keys, signing keys and settings.
    ViewApp,
    UpdateApp,
    UpdateAppSettings,
    DeleteApp,
    AddDeveloper,
    AddOwner,
    /// The builder (a developer) made admin.
    PromoteDeveloper,
    /// The only owner made admin.
    DemoteOwner,
    /// The builder removed.
    RemoveDeveloper,
    /// The caller removes themself.
    Leave,
    CreateApiKey,
    RevokeApiKey,
    RotateSigningKey,
    CreateApp,
}

const CONFLICT: Option<&str> = Some("CONFLICT");

/// Expected outcome per caller, in the order of [`CONTROL_CALLERS`].
#[rustfmt::skip]
const CONTROL_MATRIX: [(ControlOp, [Option<&str>; 9]); 14] = [
    //                              owner     admin      developer  viewer     other dev  app user   secret     publishable      anonymous
    (ControlOp::ViewApp,           [OK,       OK,        OK,        OK,        NOT_FOUND, FORBIDDEN, OK,        UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::UpdateApp,         [OK,       OK,        FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, OK,        UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::UpdateAppSettings, [OK,       OK,        FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, OK,        UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::DeleteApp,         [OK,       FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::AddDeveloper,      [OK,       OK,        FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::AddOwner,          [OK,       FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::PromoteDeveloper,  [OK,       OK,        FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::DemoteOwner,       [CONFLICT, FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::RemoveDeveloper,   [OK,       OK,        FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::Leave,             [CONFLICT, OK,        OK,        OK,        NOT_FOUND, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::CreateApiKey,      [OK,       OK,        FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::RevokeApiKey,      [OK,       OK,        FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::RotateSigningKey,  [OK,       OK,        FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
    (ControlOp::CreateApp,         [OK,       OK,        OK,        OK,        OK,        FORBIDDEN, FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED]),
];

/// The developers, signed up once; each cell makes a fresh app among them.
struct Developers {
    owner: orbit_tests::Session,
    admin: orbit_tests::Session,
    developer: orbit_tests::Session,
    viewer: orbit_tests::Session,
    /// A developer the cells' apps have with the developer role, as a target.
    builder: orbit_tests::Session,
    /// Owns an app of their own, and no role on the cells' apps.
    other: orbit_tests::Session,
    /// A developer in no app, for the cells that add one.
    newcomer: orbit_tests::Session,
}

/// A cell's app, and the app user when the cell needs one.
struct ControlWorld {
    app: orbit_tests::DeveloperApp,
    user: Option<orbit_tests::Session>,
    /// The id of the app's publishable key, when the cell revokes it.
    key_id: Option<String>,
}

impl ControlCaller {
    fn credential(self, d: &Developers, w: &ControlWorld) -> Option<String> {
        match self {
            ControlCaller::Owner => Some(d.owner.access_token.clone()),
            ControlCaller::Admin => Some(d.admin.access_token.clone()),
            ControlCaller::Developer => Some(d.developer.access_token.clone()),
            ControlCaller::Viewer => Some(d.viewer.access_token.clone()),
            ControlCaller::OtherDeveloper => Some(d.other.access_token.clone()),
            ControlCaller::AppUser => w.user.as_ref().map(|u| u.access_token.clone()),
            ControlCaller::Secret => Some(w.app.secret_key.clone()),
            ControlCaller::Publishable => Some(w.app.publishable_key.clone()),
            ControlCaller::Anonymous => None,
        }
    }

    /// The caller's own user id, where they have one (else the developer's).
    fn user_id(self, d: &Developers, w: &ControlWorld) -> String {
        match self {
            ControlCaller::Owner => d.owner.user_id.clone(),
            ControlCaller::Admin => d.admin.user_id.clone(),
            ControlCaller::Viewer => d.viewer.user_id.clone(),
            ControlCaller::OtherDeveloper => d.other.user_id.clone(),
            ControlCaller::AppUser => w
                .user
                .as_ref()
                .map(|u| u.user_id.clone())
                .unwrap_or_default(),
            ControlCaller::Developer
            | ControlCaller::Secret
            | ControlCaller::Publishable
            | ControlCaller::Anonymous => d.developer.user_id.clone(),
        }
    }
}

async fn control_world(
    app: &TestApp,
    d: &Developers,
    op: ControlOp,
    caller: ControlCaller,
) -> ControlWorld {
    let created = app.create_app_as(&d.owner.access_token, "Matrix").await;
    for (who, role) in [
        (&d.admin, "ADMIN"),
        (&d.developer, "DEVELOPER"),
        (&d.viewer, "VIEWER"),
        (&d.builder, "DEVELOPER"),
    ] {
        app.add_app_member(&d.owner.access_token, &created.app_id, &who.email, role)
            .await;
    }
    let user = match caller {
        ControlCaller::AppUser => Some(
            app.sign_up(&created.publishable_key, &email("user"), "User")
                .await,
        ),
        _ => None,
    };
    let key_id = match op {
        ControlOp::RevokeApiKey => {
            let keys = app
                .gql_ok(
                    d.owner.token(),
                    "query($id: ID!) { app(id: $id) { apiKeys { edges { node { id kind } } } } }",
                    json!({ "id": created.app_id }),
                )
                .await;
            keys["app"]["apiKeys"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["node"]["kind"] == "PUBLISHABLE")
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        }
        _ => None,
    };
    ControlWorld {
        app: created,
        user,
        key_id,
    }
}

impl ControlOp {
    /// The request, and the root field that holds its result.
    fn request(
        self,
        d: &Developers,
        w: &ControlWorld,
        caller: ControlCaller,
    ) -> (&'static str, Value, &'static str) {
        let app_id = &w.app.app_id;
        let role = |user: &str, role: &str| json!({ "input": { "appId": app_id, "userId": user, "role": role } });
        let add = |role: &str| json!({ "input": { "appId": app_id, "email": d.newcomer.email, "role": role } });
        const SET_ROLE: &str = "mutation($input: SetAppMemberRoleInput!) { setAppMemberRole(input: $input) { member { role } } }";
        const REMOVE: &str = "mutation($input: RemoveAppMemberInput!) { removeAppMember(input: $input) { removedUserId } }";
        match self {
            ControlOp::ViewApp => (
                "query($id: ID!) { app(id: $id) { id members { edges { node { role } } } apiKeys { edges { node { id } } } signingKeys { edges { node { kid } } } settings { passwordLogin } } }",
                json!({ "id": app_id }),
                "app",
            ),
            ControlOp::UpdateApp => (
                "mutation($input: UpdateAppInput!) { updateApp(input: $input) { app { name } } }",
                json!({ "input": { "appId": app_id, "name": "Renamed" } }),
                "updateApp",
            ),
            ControlOp::UpdateAppSettings => (
                orbit_tests::UPDATE_APP_SETTINGS,
                json!({ "input": { "appId": app_id, "magicLinkLogin": false } }),
                "updateAppSettings",
            ),
            ControlOp::DeleteApp => (
                "mutation($input: DeleteAppInput!) { deleteApp(input: $input) { deletedAppId } }",
                json!({ "input": { "appId": app_id } }),
                "deleteApp",
            ),
            ControlOp::AddDeveloper => (
                orbit_tests::ADD_APP_MEMBER,
                add("DEVELOPER"),
                "addAppMember",
            ),
            ControlOp::AddOwner => (orbit_tests::ADD_APP_MEMBER, add("OWNER"), "addAppMember"),
            ControlOp::PromoteDeveloper => (
                SET_ROLE,
                role(&d.builder.user_id, "ADMIN"),
                "setAppMemberRole",
            ),
            ControlOp::DemoteOwner => (
                SET_ROLE,
                role(&d.owner.user_id, "ADMIN"),
                "setAppMemberRole",
            ),
            ControlOp::RemoveDeveloper => (
                REMOVE,
                json!({ "input": { "appId": app_id, "userId": d.builder.user_id } }),
                "removeAppMember",
            ),
            ControlOp::Leave => (
                REMOVE,
                json!({ "input": { "appId": app_id, "userId": caller.user_id(d, w) } }),
                "removeAppMember",
            ),
            ControlOp::CreateApiKey => (
                orbit_tests::CREATE_API_KEY,
                json!({ "input": { "appId": app_id, "kind": "SECRET", "name": "Matrix" } }),
                "createApiKey",
            ),
            ControlOp::RevokeApiKey => (
                orbit_tests::REVOKE_API_KEY,
                json!({ "input": { "appId": app_id, "id": w.key_id } }),
                "revokeApiKey",
            ),
            ControlOp::RotateSigningKey => (
                "mutation($input: RotateSigningKeyInput!) { rotateSigningKey(input: $input) { signingKey { kid } } }",
                json!({ "input": { "appId": app_id } }),
                "rotateSigningKey",
            ),
            ControlOp::CreateApp => (
                orbit_tests::CREATE_APP,
                json!({ "input": { "name": "Another" } }),
                "createApp",
            ),
        }
    }
}

#[tokio::test]
async fn every_control_plane_operation_with_every_caller() {
    let app = orbit_tests::spawn_console_app().await;
    let developers = Developers {
        owner: app.sign_up_developer("owner").await,
        admin: app.sign_up_developer("admin").await,
        developer: app.sign_up_developer("developer").await,
        viewer: app.sign_up_developer("viewer").await,
        builder: app.sign_up_developer("builder").await,
        other: app.sign_up_developer("other").await,
        newcomer: app.sign_up_developer("newcomer").await,
    };
    app.create_app_as(&developers.other.access_token, "Elsewhere")
        .await;
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for (op, expectations) in CONTROL_MATRIX {
        for (caller, expected) in CONTROL_CALLERS.into_iter().zip(expectations) {
            let world = control_world(&app, &developers, op, caller).await;
            let (query, variables, root) = op.request(&developers, &world, caller);
            let credential = caller.credential(&developers, &world);
            let response = app.gql(credential.as_deref(), query, variables).await;
            cells += 1;
            if let Some(mismatch) = mismatch(&response, root, expected) {
                mismatches.push(format!("{op:?} as {caller:?}: {mismatch}"));
            }
        }
    }
    assert_eq!(cells, CONTROL_MATRIX.len() * CONTROL_CALLERS.len());
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Notes a cell whose answer is not `expected`, named `cell`.
fn check_cell(
    mismatches: &mut Vec<String>,
    cell: &str,
    expected: Option<&str>,
    response: &Value,
    root: &str,
) {
    if let Some(mismatch) = mismatch(response, root, expected) {
        mismatches.push(format!("{cell}: {mismatch}"));
    }
}

/// Who calls a control-plane operation on app A: its developers by role, a
/// developer who is not a member of A, a user of A, and A's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AppCaller {
    Owner,
    Admin,
    Developer,
    Viewer,
    Stranger,
    AppUser,
    Secret,
    Publishable,
    Anonymous,
}

const APP_CALLERS: [AppCaller; 9] = [
    AppCaller::Owner,
    AppCaller::Admin,
    AppCaller::Developer,
    AppCaller::Viewer,
    AppCaller::Stranger,
    AppCaller::AppUser,
    AppCaller::Secret,
    AppCaller::Publishable,
    AppCaller::Anonymous,
];

/// App A and a credential for each [`AppCaller`].
struct ControlPlane {
    keys: orbit_api::admin::CreatedAppKeys,
    credentials: Vec<(AppCaller, Option<String>)>,
}

/// A console user (made as the owner of an app of their own), with `role`
/// on `app_id` when given; signed in to the console.
async fn developer(app: &TestApp, app_id: &str, role: Option<&str>) -> String {
    use sea_orm::ActiveModelTrait;
    let address = email("dev");
    let own = app
        .create_app_with_owner("Dev's own", &address, orbit_tests::PASSWORD)
        .await;
    if let Some(role) = role {
        let app_id: orbit_domain::ids::AppId = app_id.parse().unwrap();
        let user_id: orbit_domain::ids::UserId = own.owner_id.parse().unwrap();
        orbit_domain::entities::app_member::ActiveModel {
            app_id: sea_orm::ActiveValue::Set(app_id.uuid()),
            user_id: sea_orm::ActiveValue::Set(user_id.uuid()),
            role: sea_orm::ActiveValue::Set(role.to_owned()),
            created_at: sea_orm::ActiveValue::Set(orbit_tests::start_time()),
        }
        .insert(app.services.db().conn())
        .await
        .unwrap();
    }
    app.log_in_with(None, &address).await.access_token
}

async fn control_plane(app: &TestApp) -> ControlPlane {
    let owner_email = email("owner");
    let keys = app
        .create_app_with_owner("A", &owner_email, orbit_tests::PASSWORD)
        .await;
    let owner = app.log_in_with(None, &owner_email).await.access_token;
    let user = app
        .sign_up(&keys.publishable_key, &email("user"), "App User")
        .await
        .access_token;
    let credentials = vec![
        (AppCaller::Owner, Some(owner)),
        (
            AppCaller::Admin,
            Some(developer(app, &keys.app_id, Some("admin")).await),
        ),
        (
            AppCaller::Developer,
            Some(developer(app, &keys.app_id, Some("developer")).await),
        ),
        (
            AppCaller::Viewer,
            Some(developer(app, &keys.app_id, Some("viewer")).await),
        ),
        (
            AppCaller::Stranger,
            Some(developer(app, &keys.app_id, None).await),
        ),
        (AppCaller::AppUser, Some(user)),
        (AppCaller::Secret, Some(keys.secret_key.clone())),
        (AppCaller::Publishable, Some(keys.publishable_key.clone())),
        (AppCaller::Anonymous, None),
    ];
    ControlPlane { keys, credentials }
}

#[derive(Debug, Clone, Copy)]
enum ProviderOp {
    List,
    Create,
    Update,
    Delete,
}

/// Expected outcome per caller, in the order of [`APP_CALLERS`]: owner,
/// admin, developer, viewer, stranger, app user, secret key, publishable
/// key, anonymous.
#[rustfmt::skip]
const PROVIDER_MATRIX: [(ProviderOp, [Option<&str>; 9]); 4] = [
    //                  owner admin developer  viewer     stranger   app user   secret publishable      anonymous
    (ProviderOp::List,   [OK,  OK,   OK,        OK,        NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
    (ProviderOp::Create, [OK,  OK,   FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
    (ProviderOp::Update, [OK,  OK,   FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
    (ProviderOp::Delete, [OK,  OK,   FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
];

fn custom_provider_input(slug: &str) -> Value {
    json!({
        "slug": slug,
        "preset": "CUSTOM",
        "clientId": "client",
        "clientSecret": "secret",
        "authorizationUrl": "https://idp.example/authorize",
        "tokenUrl": "https://idp.example/token",
        "userinfoUrl": "https://idp.example/userinfo",
    })
}

/// The app's providers as (slug, clientId) and their ids, read with the secret key.
async fn providers_of(app: &TestApp, secret_key: &str) -> (Vec<(String, String)>, Vec<Value>) {
    let data = app
        .gql_ok(
            Some(secret_key),
            "{ identityProviders { id slug clientId } }",
            json!({}),
        )
        .await;
    let listed = data["identityProviders"].as_array().unwrap();
    let mut fields: Vec<(String, String)> = listed
        .iter()
        .map(|p| {
            (
                p["slug"].as_str().unwrap().to_owned(),
                p["clientId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    fields.sort();
    (fields, listed.iter().map(|p| p["id"].clone()).collect())
}

#[tokio::test]
async fn identity_provider_operations_by_app_role() {
    let app = spawn_app().await;
    let plane = control_plane(&app).await;
    let sk = plane.keys.secret_key.as_str();
    let app_id = plane.keys.app_id.clone();
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for (op, expectations) in PROVIDER_MATRIX {
        for ((caller, credential), expected) in plane.credentials.iter().zip(expectations) {
            cells += 1;
            // Each cell acts on a provider of its own, removed afterwards.
            let created = app
                .gql_ok(
                    Some(sk),
                    "mutation($input: CreateIdentityProviderInput!) { createIdentityProvider(input: $input) { identityProvider { id } } }",
                    json!({ "input": custom_provider_input("cell") }),
                )
                .await;
            let id = created["createIdentityProvider"]["identityProvider"]["id"].clone();
            let (query, variables, root) = match op {
                ProviderOp::List => (
                    "query($appId: ID) { identityProviders(appId: $appId) { id slug } }",
                    json!({ "appId": app_id }),
                    "identityProviders",
                ),
                ProviderOp::Create => {
                    let mut input = custom_provider_input("new");
                    input["appId"] = json!(app_id);
                    (
                        "mutation($input: CreateIdentityProviderInput!) { createIdentityProvider(input: $input) { identityProvider { id } } }",
                        json!({ "input": input }),
                        "createIdentityProvider",
                    )
                }
                ProviderOp::Update => (
                    "mutation($input: UpdateIdentityProviderInput!) { updateIdentityProvider(input: $input) { identityProvider { id clientId } } }",
                    json!({ "input": { "appId": app_id, "id": id, "clientId": "rotated", "clientSecret": "new" } }),
                    "updateIdentityProvider",
                ),
                ProviderOp::Delete => (
                    "mutation($input: DeleteIdentityProviderInput!) { deleteIdentityProvider(input: $input) { deletedIdentityProviderId } }",
                    json!({ "input": { "appId": app_id, "id": id } }),
                    "deleteIdentityProvider",
                ),
            };
            let response = app.gql(credential.as_deref(), query, variables).await;
            check_cell(
                &mut mismatches,
                &format!("{op:?} as {caller:?}"),
                expected,
                &response,
                root,
            );
            // What is left is what the operation did, and nothing when refused.
            let allowed = expected.is_none();
            let (left, ids) = providers_of(&app, sk).await;
            let cell = ("cell".to_owned(), "client".to_owned());
            let expected_left = match op {
                ProviderOp::List => vec![cell],
                ProviderOp::Create if allowed => {
                    vec![cell, ("new".to_owned(), "client".to_owned())]
                }
                ProviderOp::Update if allowed => vec![("cell".to_owned(), "rotated".to_owned())],
                ProviderOp::Delete if allowed => vec![],
                _ => vec![cell],
            };
            if left != expected_left {
                mismatches.push(format!("{op:?} as {caller:?} left {left:?}"));
            }
            for id in ids {
                app.gql_ok(
                    Some(sk),
                    "mutation($input: DeleteIdentityProviderInput!) { deleteIdentityProvider(input: $input) { deletedIdentityProviderId } }",
                    json!({ "input": { "id": id } }),
                )
                .await;
            }
        }
    }
    assert_eq!(cells, PROVIDER_MATRIX.len() * APP_CALLERS.len());
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// Who calls a control-plane operation: developers of the app by role (they
/// name it in `appId`), its secret key, a user of the app, its publishable
/// key, nobody, and a developer of another app naming this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WebhookCaller {
    Owner,
    Admin,
    Developer,
    Viewer,
    Secret,
    AppUser,
    Publishable,
    Anonymous,
    Stranger,
}

const WEBHOOK_CALLERS: [WebhookCaller; 9] = [
    WebhookCaller::Owner,
    WebhookCaller::Admin,
    WebhookCaller::Developer,
    WebhookCaller::Viewer,
    WebhookCaller::Secret,
    WebhookCaller::AppUser,
    WebhookCaller::Publishable,
    WebhookCaller::Anonymous,
    WebhookCaller::Stranger,
];

/// An app with a developer of each role and one of another app.
struct WebhookWorld {
    world: TeamWorld,
    developers: Vec<(WebhookCaller, String)>,
}

impl WebhookWorld {
    async fn new(app: &TestApp) -> Self {
        let world = app.new_team_world().await;
        let app_id = world.keys.app_id.clone();
        let mut developers = Vec::new();
        for (caller, role) in [
            (WebhookCaller::Owner, "owner"),
            (WebhookCaller::Admin, "admin"),
            (WebhookCaller::Developer, "developer"),
            (WebhookCaller::Viewer, "viewer"),
        ] {
            let developer = app.developer(&app_id, role).await;
            developers.push((caller, developer.access_token));
        }
        let elsewhere = app.create_app("Elsewhere").await;
        let stranger = app.developer(&elsewhere.app_id, "owner").await;
        developers.push((WebhookCaller::Stranger, stranger.access_token));
        Self { world, developers }
    }

    fn credential(&self, caller: WebhookCaller) -> Option<String> {
        let w = &self.world;
        match caller {
            WebhookCaller::Secret => Some(w.keys.secret_key.clone()),
            WebhookCaller::AppUser => Some(w.owner.access_token.clone()),
            WebhookCaller::Publishable => Some(w.keys.publishable_key.clone()),
            WebhookCaller::Anonymous => None,
            developer => self
                .developers
                .iter()
                .find(|(who, _)| *who == developer)
                .map(|(_, token)| token.clone()),
        }
    }

    /// `input` with the app named, as developers must (the secret key may).
    fn naming_app(&self, caller: WebhookCaller, mut input: Value) -> Value {
        if caller != WebhookCaller::Secret {
            input["appId"] = json!(self.world.keys.app_id);
        }
        input
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WebhookOp {
    List,
    View,
    Create,
    Update,
    RotateSecret,
    Redeliver,
    Delete,
}

/// Expected outcome per caller, in the order of [`WEBHOOK_CALLERS`]: owner,
/// admin, developer, viewer, secret key, app user, publishable key,
/// anonymous, developer of another app. `None` is success.
#[rustfmt::skip]
const WEBHOOK_MATRIX: [(WebhookOp, [Option<&str>; 9]); 7] = [
    //                        owner admin developer viewer     secret user       publishable      anonymous        stranger
    (WebhookOp::List,         [OK,  OK,   OK,       OK,        OK,    FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED, NOT_FOUND]),
    (WebhookOp::View,         [OK,  OK,   OK,       OK,        OK,    FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED, NOT_FOUND]),
    (WebhookOp::Create,       [OK,  OK,   OK,       FORBIDDEN, OK,    FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED, NOT_FOUND]),
    (WebhookOp::Update,       [OK,  OK,   OK,       FORBIDDEN, OK,    FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED, NOT_FOUND]),
    (WebhookOp::RotateSecret, [OK,  OK,   OK,       FORBIDDEN, OK,    FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED, NOT_FOUND]),
    (WebhookOp::Redeliver,    [OK,  OK,   OK,       FORBIDDEN, OK,    FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED, NOT_FOUND]),
    (WebhookOp::Delete,       [OK,  OK,   OK,       FORBIDDEN, OK,    FORBIDDEN, UNAUTHENTICATED, UNAUTHENTICATED, NOT_FOUND]),
];

impl WebhookOp {
    fn request(
        self,
        plane: &WebhookWorld,
        caller: WebhookCaller,
        receiver_url: &str,
        webhook: &str,
        delivery: &str,
    ) -> (&'static str, Value, &'static str) {
        let input = |input: Value| json!({ "input": plane.naming_app(caller, input) });
        match self {
            WebhookOp::List => (
                "query($appId: ID) { webhooks(appId: $appId) { edges { node { id } } } }",
                plane.naming_app(caller, json!({})),
                "webhooks",
            ),
            WebhookOp::View => (
                "query($id: ID!, $appId: ID) { webhook(id: $id, appId: $appId) { id deliveries(first: 5) { edges { node { id attempts { statusCode } } } } } }",
                plane.naming_app(caller, json!({ "id": webhook })),
                "webhook",
            ),
            WebhookOp::Create => (
                crate::webhooks::CREATE_WEBHOOK,
                input(json!({ "url": receiver_url, "eventTypes": ["thread.created"] })),
                "createWebhook",
            ),
            WebhookOp::Update => (
                crate::webhooks::UPDATE_WEBHOOK,
                input(json!({ "id": webhook, "eventTypes": ["thread.updated"] })),
                "updateWebhook",
            ),
            WebhookOp::RotateSecret => (
                crate::webhooks::ROTATE_SECRET,
                input(json!({ "id": webhook })),
                "rotateWebhookSecret",
            ),
            WebhookOp::Redeliver => (
                crate::webhooks::REDELIVER,
                input(json!({ "id": delivery })),
                "redeliverWebhookDelivery",
            ),
            WebhookOp::Delete => (
                crate::webhooks::DELETE_WEBHOOK,
                input(json!({ "id": webhook })),
                "deleteWebhook",
            ),
        }
    }
}

/// A webhook of the app with one delivery that has been sent.
async fn webhook_with_a_delivery(
    app: &TestApp,
    plane: &WebhookWorld,
    receiver: &WebhookReceiver,
) -> (String, String) {
    let w = &plane.world;
    let sk = w.keys.secret_key.as_str();
    let (webhook, secret) =
        crate::webhooks::create_webhook(app, sk, &receiver.url(), &["message.created"]).await;
    receiver.trust(&secret);
    app.send_message(&w.author.access_token, &w.thread_id, "matrix")
        .await;
    let query = "query($id: ID!) { webhook(id: $id) { deliveries(first: 1) { edges { node { id status } } } } }";
    let sent = |data: &Value| data["webhook"]["deliveries"]["edges"][0]["node"].clone();
    orbit_tests::eventually("the delivery is sent", || async {
        let data = app.gql_ok(Some(sk), query, json!({ "id": webhook })).await;
        sent(&data)["status"] == "SUCCEEDED"
    })
    .await;
    let data = app.gql_ok(Some(sk), query, json!({ "id": webhook })).await;
    let delivery = sent(&data)["id"].as_str().unwrap().to_owned();
    (webhook, delivery)
}

/// Deletes every webhook of the app, so each cell starts from none.
async fn remove_webhooks(app: &TestApp, plane: &WebhookWorld) {
    let sk = plane.world.keys.secret_key.as_str();
    let listed = app
        .gql_ok(Some(sk), crate::webhooks::WEBHOOKS, json!({}))
        .await;
    for id in orbit_tests::node_ids(&listed["webhooks"]) {
        app.gql_ok(
            Some(sk),
            crate::webhooks::DELETE_WEBHOOK,
            json!({ "input": { "id": id } }),
        )
        .await;
    }
}

#[tokio::test]
async fn every_webhook_operation_with_every_app_caller() {
    let app = spawn_app().await;
    let plane = WebhookWorld::new(&app).await;
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for (op, expectations) in WEBHOOK_MATRIX {
        for (caller, expected) in WEBHOOK_CALLERS.into_iter().zip(expectations) {
            let (webhook, delivery) = webhook_with_a_delivery(&app, &plane, &receiver).await;
            let (query, variables, root) =
                op.request(&plane, caller, &receiver.url(), &webhook, &delivery);
            let credential = plane.credential(caller);
            let response = app.gql(credential.as_deref(), query, variables).await;
            cells += 1;
            check_cell(
                &mut mismatches,
                &format!("{op:?} as {caller:?}"),
                expected,
                &response,
                root,
            );
            remove_webhooks(&app, &plane).await;
        }
    }
    assert_eq!(cells, WEBHOOK_MATRIX.len() * WEBHOOK_CALLERS.len());
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoutineOp {
    List,
    Read,
    ReadRun,
    Create,
    Update,
    Activate,
    Pause,
    Run,
    Delete,
}

/// Expected outcome per caller, in the order of [`APP_CALLERS`]: owner,
/// admin, developer, viewer, stranger, app user, secret key, publishable
/// key, anonymous. Viewers read; developers and up build and run.
#[rustfmt::skip]
const ROUTINE_MATRIX: [(RoutineOp, [Option<&str>; 9]); 9] = [
    //                     owner admin developer viewer     stranger   app user   secret publishable      anonymous
    (RoutineOp::List,     [OK,   OK,   OK,       OK,        NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
    (RoutineOp::Read,     [OK,   OK,   OK,       OK,        NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
    (RoutineOp::ReadRun,  [OK,   OK,   OK,       OK,        NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
    (RoutineOp::Create,   [OK,   OK,   OK,       FORBIDDEN, NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
    (RoutineOp::Update,   [OK,   OK,   OK,       FORBIDDEN, NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
    (RoutineOp::Activate, [OK,   OK,   OK,       FORBIDDEN, NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
    (RoutineOp::Pause,    [OK,   OK,   OK,       FORBIDDEN, NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
    (RoutineOp::Run,      [OK,   OK,   OK,       FORBIDDEN, NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
    (RoutineOp::Delete,   [OK,   OK,   OK,       FORBIDDEN, NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED]),
];

const ROUTINE_FIELDS: &str = "{ id name status runs(first: 10) { edges { node { id } } } }";

/// The routine as the secret key reads it: name, status and how many runs.
async fn routine_state(app: &TestApp, sk: &str, id: &Value) -> Option<(String, String, usize)> {
    let data = app
        .gql(
            Some(sk),
            &format!("query($id: ID!) {{ routine(id: $id) {ROUTINE_FIELDS} }}"),
            json!({ "id": id }),
        )
        .await;
    let routine = &data["data"]["routine"];
    if routine.is_null() {
        return None;
    }
    Some((
        routine["name"].as_str().unwrap().to_owned(),
        routine["status"].as_str().unwrap().to_owned(),
        routine["runs"]["edges"].as_array().unwrap().len(),
    ))
}

/// Routines and their runs with every kind of caller; a refused change
/// leaves the routine as it was.
#[tokio::test]
async fn routine_operations_by_app_role() {
    // Runs stay queued: no worker takes them.
    let app = orbit_tests::spawn_app_with(|s| s.run_worker = false).await;
    let plane = control_plane(&app).await;
    let sk = plane.keys.secret_key.clone();
    let app_id = plane.keys.app_id.clone();
    let user = plane
        .credentials
        .iter()
        .find(|(caller, _)| *caller == AppCaller::AppUser)
        .and_then(|(_, credential)| credential.clone())
        .unwrap();
    let thread = app.create_thread(&user, "Routines", None).await;
    let provider = app
        .gql_ok(Some(&sk), "mutation { createModelProvider(input: {name: \"P\", kind: SCRIPTED}) { modelProvider { id } } }", json!({}))
        .await["createModelProvider"]["modelProvider"]["id"]
        .clone();
    let agent = app
        .gql_ok(Some(&sk), "mutation($input: CreateAgentInput!) { createAgent(input: $input) { agent { id } } }", json!({ "input": { "name": "A", "handle": "helper", "model": { "provider": provider, "model": "m" } } }))
        .await["createAgent"]["agent"]["id"]
        .clone();
    let create = format!(
        "mutation($input: CreateRoutineInput!) {{ createRoutine(input: $input) {{ routine {ROUTINE_FIELDS} }} }}"
    );
    let new_routine = |name: &str| {
        json!({ "input": { "appId": app_id, "agentId": agent, "name": name,
            "trigger": { "interval": { "seconds": 3600 } },
            "action": { "postMessage": { "threadId": thread, "content": "hello" } } } })
    };
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for (op, expectations) in ROUTINE_MATRIX {
        for ((caller, credential), expected) in plane.credentials.iter().zip(expectations) {
            cells += 1;
            // Each cell acts on a routine of its own: active, with one run.
            let made = app.gql_ok(Some(&sk), &create, new_routine("cell")).await;
            let id = made["createRoutine"]["routine"]["id"].clone();
            app.gql_ok(
                Some(&sk),
                "mutation($input: RoutineIdInput!) { activateRoutine(input: $input) { routine { id } } }",
                json!({ "input": { "id": id } }),
            )
            .await;
            let run = app
                .gql_ok(
                    Some(&sk),
                    "mutation($input: RunRoutineInput!) { runRoutine(input: $input) { run { id } } }",
                    json!({ "input": { "id": id } }),
                )
                .await["runRoutine"]["run"]["id"]
                .clone();
            let before = routine_state(&app, &sk, &id).await;
            let by_id = json!({ "input": { "appId": app_id, "id": id } });
            let (query, variables, root) = match op {
                RoutineOp::List => (
                    "query($a: ID) { routines(appId: $a) { edges { node { id } } } }".to_owned(),
                    json!({ "a": app_id }),
                    "routines",
                ),
                RoutineOp::Read => (
                    "query($id: ID!, $a: ID) { routine(id: $id, appId: $a) { id } }".to_owned(),
                    json!({ "id": id, "a": app_id }),
                    "routine",
                ),
                RoutineOp::ReadRun => (
                    "query($id: ID!, $a: ID) { routineRun(id: $id, appId: $a) { id } }".to_owned(),
                    json!({ "id": run, "a": app_id }),
                    "routineRun",
                ),
                RoutineOp::Create => (create.clone(), new_routine("new"), "createRoutine"),
                RoutineOp::Update => (
                    "mutation($input: UpdateRoutineInput!) { updateRoutine(input: $input) { routine { id } } }".to_owned(),
                    json!({ "input": { "appId": app_id, "id": id, "name": "renamed" } }),
                    "updateRoutine",
                ),
                RoutineOp::Activate => (
                    "mutation($input: RoutineIdInput!) { activateRoutine(input: $input) { routine { id } } }".to_owned(),
                    by_id,
                    "activateRoutine",
                ),
                RoutineOp::Pause => (
                    "mutation($input: RoutineIdInput!) { pauseRoutine(input: $input) { routine { id } } }".to_owned(),
                    by_id,
                    "pauseRoutine",
                ),
                RoutineOp::Run => (
                    "mutation($input: RunRoutineInput!) { runRoutine(input: $input) { run { id } } }".to_owned(),
                    by_id,
                    "runRoutine",
                ),
                RoutineOp::Delete => (
                    "mutation($input: RoutineIdInput!) { deleteRoutine(input: $input) { deletedRoutineId } }".to_owned(),
                    by_id,
                    "deleteRoutine",
                ),
            };
            let response = app.gql(credential.as_deref(), &query, variables).await;
            let cell = format!("{op:?} as {caller:?}");
            check_cell(&mut mismatches, &cell, expected, &response, root);
            let after = routine_state(&app, &sk, &id).await;
            let changed = match op {
                RoutineOp::Update | RoutineOp::Pause | RoutineOp::Run | RoutineOp::Delete => {
                    expected.is_none()
                }
                _ => false,
            };
            if (after != before) != changed {
                mismatches.push(format!("{cell}: {before:?} became {after:?}"));
            }
            // Clean up: the cell's routines go.
            let listed = app
                .gql_ok(
                    Some(&sk),
                    "{ routines(first: 100) { edges { node { id } } } }",
                    json!({}),
                )
                .await;
            for left in orbit_tests::node_ids(&listed["routines"]) {
                app.gql_ok(
                    Some(&sk),
                    "mutation($input: RoutineIdInput!) { deleteRoutine(input: $input) { deletedRoutineId } }",
                    json!({ "input": { "id": left } }),
                )
                .await;
            }
        }
    }
    assert_eq!(cells, ROUTINE_MATRIX.len() * APP_CALLERS.len());
    assert!(
        mismatches.is_empty(),
        "{} of {cells} cells differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// `appEvents` (the app's routine runs) with every kind of caller: the
/// app's builders get the run, everyone else the error.
#[tokio::test]
async fn app_events_by_app_role() {
    let app = spawn_app().await;
    let plane = control_plane(&app).await;
    let sk = plane.keys.secret_key.clone();
    let app_id = plane.keys.app_id.clone();
    let provider = app
        .gql_ok(Some(&sk), "mutation { createModelProvider(input: {name: \"P\", kind: SCRIPTED}) { modelProvider { id } } }", json!({}))
        .await["createModelProvider"]["modelProvider"]["id"]
        .clone();
    let agent = app
        .gql_ok(Some(&sk), "mutation($input: CreateAgentInput!) { createAgent(input: $input) { agent { id } } }", json!({ "input": { "name": "A", "handle": "helper", "model": { "provider": provider, "model": "m" } } }))
        .await["createAgent"]["agent"]["id"]
        .clone();
    let routine = app
        .gql_ok(
            Some(&sk),
            "mutation($input: CreateRoutineInput!) { createRoutine(input: $input) { routine { id } } }",
            json!({ "input": { "agentId": agent, "name": "Ping", "trigger": { "interval": { "seconds": 60 } },
                "action": { "callUrl": { "url": "http://127.0.0.1:9/unreachable" } } } }),
        )
        .await["createRoutine"]["routine"]["id"]
        .clone();
    #[rustfmt::skip]
    let expected: [Option<&str>; 9] =
        // owner admin developer viewer stranger   app user   secret publishable      anonymous
        [OK,     OK,   OK,       OK,    NOT_FOUND, FORBIDDEN, OK,    UNAUTHENTICATED, UNAUTHENTICATED];
    let mut mismatches = Vec::new();
    for ((caller, credential), expected) in plane.credentials.iter().zip(expected) {
        let mut client =
            orbit_tests::ws::WsClient::connected(&app.ws_url(), credential.as_deref()).await;
        client
            .subscribe(
                "a",
                "subscription($a: ID) { appEvents(appId: $a) { ... on Event { type } ... on RoutineRunStartedEvent { routineId } } }",
                json!({ "a": app_id }),
            )
            .await;
        match expected {
            None => {
                client.ping().await;
                app.gql_ok(
                    Some(&sk),
                    "mutation($input: RunRoutineInput!) { runRoutine(input: $input) { run { id } } }",
                    json!({ "input": { "id": routine } }),
                )
                .await;
                // The end of an earlier cell's run may come first.
                let mut event = client.next_payload("a").await["data"]["appEvents"].clone();
                while event["type"] == "routine_run.failed" {
                    event = client.next_payload("a").await["data"]["appEvents"].clone();
                }
                if event["type"] != "routine_run.started" || event["routineId"] != routine {
                    mismatches.push(format!("{caller:?}: got {event}"));
                }
            }
            Some(code) => {
                let errors = client.expect_error("a").await;
                if errors[0]["extensions"]["code"] != code {
                    mismatches.push(format!("{caller:?}: expected {code}, got {errors}"));
                }
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
