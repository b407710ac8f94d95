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
            check_cell(
                &mut mismatches,
                format!("{op:?} as {caller:?}"),
                expected,
                &response,
                root,
            );
        }
    }
    assert_eq!(cells, MATRIX.len() * CALLERS.len());
    assert_all_cells_match(&mismatches, cells);
}

/// Records a mismatch when `response` is not `expected` (`None`: success
/// with data at `root`; else that error code, with no data).
fn check_cell(
    mismatches: &mut Vec<String>,
    cell: String,
    expected: Option<&str>,
    response: &Value,
    root: &str,
) {
    let got = error_code(response);
    let data_ok = match expected {
        None => !response["data"][root].is_null(),
        Some(_) => response["data"].is_null() || response["data"][root].is_null(),
    };
    if got.as_deref() != expected || !data_ok {
        mismatches.push(format!(
            "{cell}: expected {}, got {} — {response}",
            expected.unwrap_or("success"),
            got.as_deref().unwrap_or("success"),
        ));
    }
}

#[track_caller]
fn assert_all_cells_match(mismatches: &[String], cells: usize) {
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

/// Who calls a control-plane operation: developers of the app by role (they
/// name it in `appId`), its secret key, a user of the app, its publishable
/// key, nobody, and a developer of another app naming this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AppCaller {
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

const APP_CALLERS: [AppCaller; 9] = [
    AppCaller::Owner,
    AppCaller::Admin,
    AppCaller::Developer,
    AppCaller::Viewer,
    AppCaller::Secret,
    AppCaller::AppUser,
    AppCaller::Publishable,
    AppCaller::Anonymous,
    AppCaller::Stranger,
];

/// An app with a developer of each role and one of another app.
struct ControlPlane {
    world: TeamWorld,
    developers: Vec<(AppCaller, String)>,
}

impl ControlPlane {
    async fn new(app: &TestApp) -> Self {
        let world = app.new_team_world().await;
        let app_id = world.keys.app_id.clone();
        let mut developers = Vec::new();
        for (caller, role) in [
            (AppCaller::Owner, "owner"),
            (AppCaller::Admin, "admin"),
            (AppCaller::Developer, "developer"),
            (AppCaller::Viewer, "viewer"),
        ] {
            let developer = app.developer(&app_id, role).await;
            developers.push((caller, developer.access_token));
        }
        let elsewhere = app.create_app("Elsewhere").await;
        let stranger = app.developer(&elsewhere.app_id, "owner").await;
        developers.push((AppCaller::Stranger, stranger.access_token));
        Self { world, developers }
    }

    fn credential(&self, caller: AppCaller) -> Option<String> {
        let w = &self.world;
        match caller {
            AppCaller::Secret => Some(w.keys.secret_key.clone()),
            AppCaller::AppUser => Some(w.owner.access_token.clone()),
            AppCaller::Publishable => Some(w.keys.publishable_key.clone()),
            AppCaller::Anonymous => None,
            developer => self
                .developers
                .iter()
                .find(|(who, _)| *who == developer)
                .map(|(_, token)| token.clone()),
        }
    }

    /// `input` with the app named, as developers must (the secret key may).
    fn naming_app(&self, caller: AppCaller, mut input: Value) -> Value {
        if caller != AppCaller::Secret {
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

/// Expected outcome per caller, in the order of [`APP_CALLERS`]: owner,
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
        plane: &ControlPlane,
        caller: AppCaller,
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
    plane: &ControlPlane,
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
async fn remove_webhooks(app: &TestApp, plane: &ControlPlane) {
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
    let plane = ControlPlane::new(&app).await;
    let receiver = WebhookReceiver::start(app.clock.clone(), []).await;
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for (op, expectations) in WEBHOOK_MATRIX {
        for (caller, expected) in APP_CALLERS.into_iter().zip(expectations) {
            let (webhook, delivery) = webhook_with_a_delivery(&app, &plane, &receiver).await;
            let (query, variables, root) =
                op.request(&plane, caller, &receiver.url(), &webhook, &delivery);
            let credential = plane.credential(caller);
            let response = app.gql(credential.as_deref(), query, variables).await;
            cells += 1;
            check_cell(
                &mut mismatches,
                format!("{op:?} as {caller:?}"),
                expected,
                &response,
                root,
            );
            remove_webhooks(&app, &plane).await;
        }
    }
    assert_eq!(cells, WEBHOOK_MATRIX.len() * APP_CALLERS.len());
    assert_all_cells_match(&mismatches, cells);
}
