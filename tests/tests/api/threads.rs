//! Threads: who sees them, who manages them, participants, listing.

use orbit_tests::{
    ADD_THREAD_PARTICIPANT, CREATE_THREAD, DELETE_THREAD, REMOVE_THREAD_PARTICIPANT, THREAD,
    TestApp, UPDATE_THREAD, assert_error, email, missing_id, no_data, node_ids, spawn_app,
};
use serde_json::{Value, json};

async fn thread_ids(app: &TestApp, token: &str, team_id: Option<&str>) -> Vec<String> {
    let data = app
        .gql_ok(
            Some(token),
            "query($teamId: ID) { threads(first: 100, teamId: $teamId) { edges { node { id } } } }",
            json!({ "teamId": team_id }),
        )
        .await;
    node_ids(&data["threads"])
}

fn participant_ids(thread: &Value) -> Vec<String> {
    let mut ids: Vec<String> = thread["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user"]["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_users_own_thread_is_theirs_alone() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let data = app
        .gql_ok(
            w.member.token(),
            CREATE_THREAD,
            json!({ "input": { "title": "Diary" } }),
        )
        .await;
    let thread = &data["createThread"]["thread"];
    let id = thread["id"].as_str().unwrap();
    assert!(id.starts_with("thr_"), "{id}");
    assert_eq!(thread["title"], "Diary");
    assert!(thread["team"].is_null());
    assert_eq!(thread["owner"]["id"], w.member.user_id.as_str());

    let seen = app
        .gql_ok(w.member.token(), THREAD, json!({ "id": id }))
        .await;
    assert_eq!(seen["thread"]["id"], id);
    assert!(
        thread_ids(&app, &w.member.access_token, None)
            .await
            .contains(&id.to_owned())
    );

    // Team-mates, even the team owner, do not see a member's own thread.
    for other in [&w.owner, &w.admin, &w.outsider] {
        let response = app.gql(other.token(), THREAD, json!({ "id": id })).await;
        assert_error(&response, "NOT_FOUND", None);
        assert!(no_data(&response, "thread"));
        assert!(
            !thread_ids(&app, &other.access_token, None)
                .await
                .contains(&id.to_owned())
        );
    }
}

#[tokio::test]
async fn participants_named_at_creation_see_the_thread() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let data = app
        .gql_ok(
            w.member.token(),
            CREATE_THREAD,
            json!({ "input": { "title": "Pair", "participantIds": [w.admin.user_id] } }),
        )
        .await;
    let thread = &data["createThread"]["thread"];
    let id = thread["id"].as_str().unwrap();
    assert!(participant_ids(thread).contains(&w.admin.user_id));

    let seen = app
        .gql_ok(w.admin.token(), THREAD, json!({ "id": id }))
        .await;
    assert_eq!(seen["thread"]["id"], id);
    assert!(
        thread_ids(&app, &w.admin.access_token, None)
            .await
            .contains(&id.to_owned())
    );
    let hidden = app.gql(w.owner.token(), THREAD, json!({ "id": id })).await;
    assert_error(&hidden, "NOT_FOUND", None);
}

#[tokio::test]
async fn participants_must_be_users_the_creator_can_see() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    for unknown in [w.outsider.user_id.clone(), missing_id("usr")] {
        let response = app
            .gql(
                w.member.token(),
                CREATE_THREAD,
                json!({ "input": { "title": "Nope", "participantIds": [unknown] } }),
            )
            .await;
        assert_error(&response, "NOT_FOUND", Some("participantIds"));
    }
    let wrong_kind = app
        .gql(
            w.member.token(),
            CREATE_THREAD,
            json!({ "input": { "title": "Nope", "participantIds": [w.team_id] } }),
        )
        .await;
    assert_error(&wrong_kind, "BAD_USER_INPUT", Some("participantIds"));
    assert!(thread_ids(&app, &w.member.access_token, None).await.len() == 1);
}

#[tokio::test]
async fn a_team_thread_is_seen_by_every_member_and_nobody_else() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    for member in [&w.owner, &w.admin, &w.member, &w.author] {
        let data = app
            .gql_ok(member.token(), THREAD, json!({ "id": w.thread_id }))
            .await;
        assert_eq!(data["thread"]["team"]["id"], w.team_id.as_str());
        assert!(data["thread"]["owner"].is_null());
        assert_eq!(
            thread_ids(&app, &member.access_token, Some(&w.team_id)).await,
            vec![w.thread_id.clone()]
        );
    }
    let outsider = app
        .gql(w.outsider.token(), THREAD, json!({ "id": w.thread_id }))
        .await;
    assert_error(&outsider, "NOT_FOUND", None);

    // Joining the team opens it.
    app.add_to_team(&w.owner.access_token, &w.team_id, &w.outsider, "MEMBER")
        .await;
    let data = app
        .gql_ok(w.outsider.token(), THREAD, json!({ "id": w.thread_id }))
        .await;
    assert_eq!(data["thread"]["id"], w.thread_id.as_str());
}

#[tokio::test]
async fn create_thread_with_the_secret_key_needs_a_team_or_an_owner() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let sk = Some(w.keys.secret_key.as_str());

    let missing = app
        .gql(sk, CREATE_THREAD, json!({ "input": { "title": "Orphan" } }))
        .await;
    assert_eq!(
        orbit_tests::error_code(&missing).as_deref(),
        Some("BAD_USER_INPUT"),
        "{missing}"
    );
    let field = orbit_tests::error_field(&missing);
    assert!(
        matches!(field.as_deref(), Some("ownerId" | "teamId")),
        "field: {missing}"
    );

    let owned = app
        .gql_ok(
            sk,
            CREATE_THREAD,
            json!({ "input": { "title": "For Mia", "ownerId": w.member.user_id } }),
        )
        .await;
    let owned = &owned["createThread"]["thread"];
    assert_eq!(owned["owner"]["id"], w.member.user_id.as_str());
    let seen = app
        .gql_ok(w.member.token(), THREAD, json!({ "id": owned["id"] }))
        .await;
    assert_eq!(seen["thread"]["title"], "For Mia");

    let team = app
        .gql_ok(
            sk,
            CREATE_THREAD,
            json!({ "input": { "title": "For the team", "teamId": w.team_id } }),
        )
        .await;
    assert_eq!(
        team["createThread"]["thread"]["team"]["id"],
        w.team_id.as_str()
    );
}

#[tokio::test]
async fn a_user_may_not_name_a_thread_owner() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let response = app
        .gql(
            w.member.token(),
            CREATE_THREAD,
            json!({ "input": { "title": "Sneaky", "ownerId": w.admin.user_id } }),
        )
        .await;
    assert_error(&response, "FORBIDDEN", Some("ownerId"));
    assert!(no_data(&response, "createThread"));
}

#[tokio::test]
async fn create_thread_validates_its_title() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    for title in ["".to_owned(), " \t ".to_owned(), "t".repeat(201)] {
        let response = app
            .gql(
                w.member.token(),
                CREATE_THREAD,
                json!({ "input": { "title": title } }),
            )
            .await;
        assert_error(&response, "BAD_USER_INPUT", Some("title"));
    }
    let update = app
        .gql(
            w.author.token(),
            UPDATE_THREAD,
            json!({ "input": { "id": w.thread_id, "title": "" } }),
        )
        .await;
    assert_error(&update, "BAD_USER_INPUT", Some("title"));
}

#[tokio::test]
async fn a_team_thread_is_managed_by_its_creator_and_team_admins() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let rename = |title: &str| json!({ "input": { "id": w.thread_id, "title": title } });
    for (who, title) in [
        (&w.author, "By creator"),
        (&w.admin, "By admin"),
        (&w.owner, "By owner"),
    ] {
        let data = app.gql_ok(who.token(), UPDATE_THREAD, rename(title)).await;
        assert_eq!(data["updateThread"]["thread"]["title"], title);
    }
    let member = app
        .gql(w.member.token(), UPDATE_THREAD, rename("By member"))
        .await;
    assert_error(&member, "FORBIDDEN", None);
    let outsider = app
        .gql(w.outsider.token(), UPDATE_THREAD, rename("By outsider"))
        .await;
    assert_error(&outsider, "NOT_FOUND", None);
    let data = app
        .gql_ok(w.member.token(), THREAD, json!({ "id": w.thread_id }))
        .await;
    assert_eq!(data["thread"]["title"], "By owner");
}

#[tokio::test]
async fn a_users_thread_is_managed_by_its_owner_not_its_participants() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let data = app
        .gql_ok(
            w.member.token(),
            CREATE_THREAD,
            json!({ "input": { "title": "Mine", "participantIds": [w.admin.user_id] } }),
        )
        .await;
    let id = data["createThread"]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let by_participant = app
        .gql(
            w.admin.token(),
            UPDATE_THREAD,
            json!({ "input": { "id": id, "title": "Theirs" } }),
        )
        .await;
    assert_error(&by_participant, "FORBIDDEN", None);
    let delete_by_participant = app
        .gql(
            w.admin.token(),
            DELETE_THREAD,
            json!({ "input": { "id": id } }),
        )
        .await;
    assert_error(&delete_by_participant, "FORBIDDEN", None);

    let data = app
        .gql_ok(
            w.member.token(),
            UPDATE_THREAD,
            json!({ "input": { "id": id, "title": "Still mine" } }),
        )
        .await;
    assert_eq!(data["updateThread"]["thread"]["title"], "Still mine");
}

#[tokio::test]
async fn delete_thread_removes_it_and_its_messages() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let member = app
        .gql(
            w.member.token(),
            DELETE_THREAD,
            json!({ "input": { "id": w.thread_id } }),
        )
        .await;
    assert_error(&member, "FORBIDDEN", None);

    let data = app
        .gql_ok(
            w.admin.token(),
            DELETE_THREAD,
            json!({ "input": { "id": w.thread_id } }),
        )
        .await;
    assert_eq!(
        data["deleteThread"]["deletedThreadId"],
        w.thread_id.as_str()
    );

    let thread = app
        .gql(w.author.token(), THREAD, json!({ "id": w.thread_id }))
        .await;
    assert_error(&thread, "NOT_FOUND", None);
    let message = app
        .gql_ok(
            Some(&w.keys.secret_key),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": w.message_id }),
        )
        .await;
    assert!(message["node"].is_null(), "the message survived: {message}");
    assert!(
        thread_ids(&app, &w.owner.access_token, None)
            .await
            .is_empty()
    );
    let again = app
        .gql(
            w.admin.token(),
            DELETE_THREAD,
            json!({ "input": { "id": w.thread_id } }),
        )
        .await;
    assert_error(&again, "NOT_FOUND", None);
}

#[tokio::test]
async fn participants_are_added_and_removed_by_managers() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let own = app
        .create_thread(&w.member.access_token, "Mine", None)
        .await;
    let add = |user: &str| json!({ "input": { "threadId": own, "userId": user } });

    let data = app
        .gql_ok(
            w.member.token(),
            ADD_THREAD_PARTICIPANT,
            add(&w.admin.user_id),
        )
        .await;
    assert_eq!(
        participant_ids(&data["addThreadParticipant"]["thread"]),
        vec![w.admin.user_id.clone()]
    );
    let seen = app
        .gql_ok(w.admin.token(), THREAD, json!({ "id": own }))
        .await;
    assert_eq!(seen["thread"]["id"], own.as_str());

    // A participant cannot bring others in.
    let by_participant = app
        .gql(
            w.admin.token(),
            ADD_THREAD_PARTICIPANT,
            add(&w.owner.user_id),
        )
        .await;
    assert_error(&by_participant, "FORBIDDEN", None);
    // Nobody can add a user they cannot see.
    let invisible = app
        .gql(
            w.member.token(),
            ADD_THREAD_PARTICIPANT,
            add(&w.outsider.user_id),
        )
        .await;
    assert_error(&invisible, "NOT_FOUND", Some("userId"));

    // The owner removes the participant, who loses access.
    let data = app
        .gql_ok(
            w.member.token(),
            REMOVE_THREAD_PARTICIPANT,
            add(&w.admin.user_id),
        )
        .await;
    assert!(participant_ids(&data["removeThreadParticipant"]["thread"]).is_empty());
    let lost = app.gql(w.admin.token(), THREAD, json!({ "id": own })).await;
    assert_error(&lost, "NOT_FOUND", None);
}

#[tokio::test]
async fn a_participant_may_leave_but_not_remove_others() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let data = app
        .gql_ok(
            w.member.token(),
            CREATE_THREAD,
            json!({ "input": { "title": "Trio", "participantIds": [w.admin.user_id, w.owner.user_id] } }),
        )
        .await;
    let id = data["createThread"]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let input = |user: &str| json!({ "input": { "threadId": id, "userId": user } });

    let other = app
        .gql(
            w.admin.token(),
            REMOVE_THREAD_PARTICIPANT,
            input(&w.owner.user_id),
        )
        .await;
    assert_error(&other, "FORBIDDEN", None);

    app.gql_ok(
        w.admin.token(),
        REMOVE_THREAD_PARTICIPANT,
        input(&w.admin.user_id),
    )
    .await;
    let lost = app.gql(w.admin.token(), THREAD, json!({ "id": id })).await;
    assert_error(&lost, "NOT_FOUND", None);
    let kept = app
        .gql_ok(w.owner.token(), THREAD, json!({ "id": id }))
        .await;
    assert_eq!(
        participant_ids(&kept["thread"]),
        vec![w.owner.user_id.clone()]
    );
}

#[tokio::test]
async fn threads_filters_by_team_and_refuses_other_teams() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let other_team = app.create_team(&w.owner.access_token, "Other").await;
    let other_thread = app
        .create_thread(&w.owner.access_token, "Elsewhere", Some(&other_team))
        .await;
    let own = app.create_thread(&w.owner.access_token, "Mine", None).await;

    assert_eq!(
        thread_ids(&app, &w.owner.access_token, Some(&w.team_id)).await,
        vec![w.thread_id.clone()]
    );
    assert_eq!(
        thread_ids(&app, &w.owner.access_token, Some(&other_team)).await,
        vec![other_thread.clone()]
    );
    let mut all = thread_ids(&app, &w.owner.access_token, None).await;
    all.sort();
    let mut expected = vec![w.thread_id.clone(), other_thread, own];
    expected.sort();
    assert_eq!(all, expected);

    let response = app
        .gql(
            w.member.token(),
            "query($teamId: ID) { threads(teamId: $teamId) { edges { node { id } } } }",
            json!({ "teamId": other_team }),
        )
        .await;
    assert_error(&response, "NOT_FOUND", Some("teamId"));
}

#[tokio::test]
async fn the_secret_key_sees_every_thread() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let private = app
        .create_thread(&w.outsider.access_token, "Secret diary", None)
        .await;
    let mut all = thread_ids(&app, &w.keys.secret_key, None).await;
    all.sort();
    let mut expected = vec![w.thread_id.clone(), private.clone()];
    expected.sort();
    assert_eq!(all, expected);
    let data = app
        .gql_ok(Some(&w.keys.secret_key), THREAD, json!({ "id": private }))
        .await;
    assert_eq!(data["thread"]["owner"]["id"], w.outsider.user_id.as_str());
    assert_eq!(data["thread"]["unreadCount"], 0);
}

#[tokio::test]
async fn users_see_team_mates_and_themselves_only() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let stranger = app
        .sign_up(&w.keys.publishable_key, &email("stranger"), "Stranger")
        .await;
    let query = "{ users(first: 100) { edges { node { id email } } } }";

    let data = app.gql_ok(w.member.token(), query, json!({})).await;
    let mut seen = node_ids(&data["users"]);
    seen.sort();
    let mut team = vec![
        w.owner.user_id.clone(),
        w.admin.user_id.clone(),
        w.member.user_id.clone(),
        w.author.user_id.clone(),
    ];
    team.sort();
    assert_eq!(seen, team);
    for edge in data["users"]["edges"].as_array().unwrap() {
        let node = &edge["node"];
        if node["id"] == w.member.user_id.as_str() {
            assert_eq!(node["email"], w.member.email.as_str());
        } else {
            assert!(
                node["email"].is_null(),
                "email of another user leaked: {node}"
            );
        }
    }

    let alone = app.gql_ok(stranger.token(), query, json!({})).await;
    assert_eq!(node_ids(&alone["users"]), vec![stranger.user_id.clone()]);

    let user_query = "query($id: ID!) { user(id: $id) { id email displayName } }";
    let mate = app
        .gql_ok(
            w.member.token(),
            user_query,
            json!({ "id": w.owner.user_id }),
        )
        .await;
    assert_eq!(mate["user"]["displayName"], "Olive Owner");
    assert!(mate["user"]["email"].is_null());
    let hidden = app
        .gql(
            w.member.token(),
            user_query,
            json!({ "id": stranger.user_id }),
        )
        .await;
    assert_error(&hidden, "NOT_FOUND", None);
    assert!(no_data(&hidden, "user"));

    let by_secret = app
        .gql_ok(
            Some(&w.keys.secret_key),
            user_query,
            json!({ "id": stranger.user_id }),
        )
        .await;
    assert_eq!(by_secret["user"]["email"], stranger.email.as_str());
    let everyone = app.gql_ok(Some(&w.keys.secret_key), query, json!({})).await;
    // The world's five people, its guest and the stranger.
    assert_eq!(node_ids(&everyone["users"]).len(), 7);
}

#[tokio::test]
async fn a_participant_of_a_team_thread_sees_it_without_joining_the_team() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    // The owner and the outsider share another team, so the owner can add them.
    let side = app.create_team(&w.owner.access_token, "Side").await;
    app.add_to_team(&w.owner.access_token, &side, &w.outsider, "MEMBER")
        .await;
    app.gql_ok(
        w.owner.token(),
        ADD_THREAD_PARTICIPANT,
        json!({ "input": { "threadId": w.thread_id, "userId": w.outsider.user_id } }),
    )
    .await;

    let seen = app
        .gql_ok(w.outsider.token(), THREAD, json!({ "id": w.thread_id }))
        .await;
    assert_eq!(seen["thread"]["id"], w.thread_id.as_str());
    // The team is not theirs to see, not even through the thread.
    assert!(seen["thread"]["team"].is_null(), "{seen}");
    assert!(
        thread_ids(&app, &w.outsider.access_token, None)
            .await
            .contains(&w.thread_id)
    );
    let sent = app
        .send_message(&w.outsider.access_token, &w.thread_id, "guest here")
        .await;
    assert!(sent.starts_with("msg_"));
    // The thread, not the team: the team itself stays hidden.
    let team = app
        .gql(
            w.outsider.token(),
            orbit_tests::TEAM,
            json!({ "id": w.team_id }),
        )
        .await;
    assert_error(&team, "NOT_FOUND", None);
    let other = app
        .create_thread(&w.owner.access_token, "Members only", Some(&w.team_id))
        .await;
    let hidden = app
        .gql(w.outsider.token(), THREAD, json!({ "id": other }))
        .await;
    assert_error(&hidden, "NOT_FOUND", None);
}

#[tokio::test]
async fn node_answers_null_for_what_the_caller_cannot_see() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let private = app
        .create_thread(&w.member.access_token, "Private", None)
        .await;
    let query = "query($id: ID!) { node(id: $id) { id ... on Thread { title } ... on Team { name } ... on Message { content } } }";
    for id in [
        &w.team_id,
        &w.thread_id,
        &w.message_id,
        &w.owner.user_id,
        &private,
    ] {
        let response = app
            .gql(w.outsider.token(), query, json!({ "id": id }))
            .await;
        let code = orbit_tests::error_code(&response);
        assert!(
            code.is_none() || code.as_deref() == Some("NOT_FOUND"),
            "{response}"
        );
        assert!(no_data(&response, "node"), "node({id}) leaked: {response}");
    }
    let mine = app
        .gql_ok(w.member.token(), query, json!({ "id": private }))
        .await;
    assert_eq!(mine["node"]["title"], "Private");
    let team = app
        .gql_ok(w.member.token(), query, json!({ "id": w.team_id }))
        .await;
    assert_eq!(team["node"]["name"], "Crew");
    let message = app
        .gql_ok(w.member.token(), query, json!({ "id": w.message_id }))
        .await;
    assert_eq!(message["node"]["content"], "hello team");
}

#[tokio::test]
async fn users_search_finds_only_visible_users() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let query = "query($s: String) { users(search: $s) { edges { node { id } } } }";
    let found = app
        .gql_ok(w.member.token(), query, json!({ "s": "Olive" }))
        .await;
    assert_eq!(node_ids(&found["users"]), vec![w.owner.user_id.clone()]);
    let invisible = app
        .gql_ok(w.member.token(), query, json!({ "s": "Otto" }))
        .await;
    assert!(node_ids(&invisible["users"]).is_empty());
    let by_secret = app
        .gql_ok(Some(&w.keys.secret_key), query, json!({ "s": "Otto" }))
        .await;
    assert_eq!(
        node_ids(&by_secret["users"]),
        vec![w.outsider.user_id.clone()]
    );
}
