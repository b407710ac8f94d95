//! Team mutations: each one's success and its failures.

use orbit_tests::{
    CREATE_TEAM, CREATE_THREAD, DELETE_TEAM, INVITE_TEAM_MEMBER, JOIN_TEAM, REMOVE_TEAM_MEMBER,
    SET_TEAM_MEMBER_ROLE, TEAM, THREAD, TestApp, UPDATE_TEAM, assert_error, email, no_data,
    node_ids, spawn_app,
};
use serde_json::{Value, json};

/// (user id, role) of a team's members as `token` sees them.
async fn members(app: &TestApp, token: &str, team_id: &str) -> Vec<(String, String)> {
    let data = app
        .gql_ok(Some(token), TEAM, json!({ "id": team_id }))
        .await;
    let mut members: Vec<(String, String)> = data["team"]["members"]["edges"]
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
    members.sort();
    members
}

fn sorted(mut pairs: Vec<(&str, &str)>) -> Vec<(String, String)> {
    pairs.sort();
    pairs
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
}

#[tokio::test]
async fn create_team_makes_the_creator_its_owner() {
    let app = spawn_app().await;
    let keys = app.create_app("Teams").await;
    let ann = app
        .sign_up(&keys.publishable_key, &email("ann"), "Ann")
        .await;
    let data = app
        .gql_ok(
            ann.token(),
            CREATE_TEAM,
            json!({ "input": { "name": "Rockets" } }),
        )
        .await;
    let team = &data["createTeam"]["team"];
    assert!(team["id"].as_str().unwrap().starts_with("team_"));
    assert_eq!(team["name"], "Rockets");
    assert_eq!(team["viewerRole"], "OWNER");
    let members = team["members"]["edges"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["node"]["user"]["id"], ann.user_id.as_str());
    assert_eq!(members[0]["node"]["role"], "OWNER");

    let teams = app
        .gql_ok(
            ann.token(),
            "{ teams { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        node_ids(&teams["teams"]),
        vec![team["id"].as_str().unwrap()]
    );
}

#[tokio::test]
async fn create_team_validates_its_name() {
    let app = spawn_app().await;
    let keys = app.create_app("Teams").await;
    let ann = app
        .sign_up(&keys.publishable_key, &email("ann"), "Ann")
        .await;
    for name in ["".to_owned(), "   ".to_owned(), "x".repeat(101)] {
        let response = app
            .gql(
                ann.token(),
                CREATE_TEAM,
                json!({ "input": { "name": name } }),
            )
            .await;
        assert_error(&response, "BAD_USER_INPUT", Some("name"));
        assert!(no_data(&response, "createTeam"));
    }
}

#[tokio::test]
async fn create_team_with_the_secret_key_needs_an_owner() {
    let app = spawn_app().await;
    let keys = app.create_app("Teams").await;
    let ann = app
        .sign_up(&keys.publishable_key, &email("ann"), "Ann")
        .await;
    let sk = Some(keys.secret_key.as_str());

    let missing = app
        .gql(sk, CREATE_TEAM, json!({ "input": { "name": "No Owner" } }))
        .await;
    assert_error(&missing, "BAD_USER_INPUT", Some("ownerId"));

    let data = app
        .gql_ok(
            sk,
            CREATE_TEAM,
            json!({ "input": { "name": "Owned", "ownerId": ann.user_id } }),
        )
        .await;
    let team = &data["createTeam"]["team"];
    assert!(team["viewerRole"].is_null(), "a secret key has no role");
    let team_id = team["id"].as_str().unwrap();
    assert_eq!(
        members(&app, &ann.access_token, team_id).await,
        sorted(vec![(&ann.user_id, "OWNER")])
    );

    let unknown = app
        .gql(
            sk,
            CREATE_TEAM,
            json!({ "input": { "name": "Ghost", "ownerId": orbit_tests::missing_id("usr") } }),
        )
        .await;
    assert_error(&unknown, "NOT_FOUND", Some("ownerId"));
}

#[tokio::test]
async fn a_user_may_not_name_another_owner() {
    let app = spawn_app().await;
    let keys = app.create_app("Teams").await;
    let ann = app
        .sign_up(&keys.publishable_key, &email("ann"), "Ann")
        .await;
    let bob = app
        .sign_up(&keys.publishable_key, &email("bob"), "Bob")
        .await;
    let response = app
        .gql(
            ann.token(),
            CREATE_TEAM,
            json!({ "input": { "name": "Sneaky", "ownerId": bob.user_id } }),
        )
        .await;
    assert_error(&response, "FORBIDDEN", Some("ownerId"));
    assert!(no_data(&response, "createTeam"));
}

#[tokio::test]
async fn create_team_needs_a_user_or_the_secret_key() {
    let app = spawn_app().await;
    let keys = app.create_app("Teams").await;
    for auth in [Some(keys.publishable_key.as_str()), None] {
        let response = app
            .gql(auth, CREATE_TEAM, json!({ "input": { "name": "Nope" } }))
            .await;
        assert_error(&response, "UNAUTHENTICATED", None);
    }
}

#[tokio::test]
async fn update_team_renames_for_owner_and_admin_only() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let rename = |name: &str| json!({ "input": { "id": w.team_id, "name": name } });

    let data = app
        .gql_ok(w.owner.token(), UPDATE_TEAM, rename("By Owner"))
        .await;
    assert_eq!(data["updateTeam"]["team"]["name"], "By Owner");
    let data = app
        .gql_ok(w.admin.token(), UPDATE_TEAM, rename("By Admin"))
        .await;
    assert_eq!(data["updateTeam"]["team"]["name"], "By Admin");

    let member = app
        .gql(w.member.token(), UPDATE_TEAM, rename("By Member"))
        .await;
    assert_error(&member, "FORBIDDEN", None);
    let outsider = app
        .gql(w.outsider.token(), UPDATE_TEAM, rename("By Outsider"))
        .await;
    assert_error(&outsider, "NOT_FOUND", None);
    let empty = app.gql(w.owner.token(), UPDATE_TEAM, rename("")).await;
    assert_error(&empty, "BAD_USER_INPUT", Some("name"));

    let team = app
        .gql_ok(w.member.token(), TEAM, json!({ "id": w.team_id }))
        .await;
    assert_eq!(team["team"]["name"], "By Admin");
}

#[tokio::test]
async fn delete_team_is_for_the_owner_and_takes_its_threads() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let input = json!({ "input": { "id": w.team_id } });

    let admin = app.gql(w.admin.token(), DELETE_TEAM, input.clone()).await;
    assert_error(&admin, "FORBIDDEN", None);
    let member = app.gql(w.member.token(), DELETE_TEAM, input.clone()).await;
    assert_error(&member, "FORBIDDEN", None);

    let data = app
        .gql_ok(w.owner.token(), DELETE_TEAM, input.clone())
        .await;
    assert_eq!(data["deleteTeam"]["deletedTeamId"], w.team_id.as_str());

    let gone = app
        .gql(w.owner.token(), TEAM, json!({ "id": w.team_id }))
        .await;
    assert_error(&gone, "NOT_FOUND", None);
    let thread = app
        .gql(w.author.token(), THREAD, json!({ "id": w.thread_id }))
        .await;
    assert_error(&thread, "NOT_FOUND", None);
    let by_secret = app
        .gql(
            Some(&w.keys.secret_key),
            THREAD,
            json!({ "id": w.thread_id }),
        )
        .await;
    assert_error(&by_secret, "NOT_FOUND", None);
    let again = app.gql(w.owner.token(), DELETE_TEAM, input).await;
    assert_error(&again, "NOT_FOUND", None);
}

#[tokio::test]
async fn a_non_member_cannot_see_a_team() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let response = app
        .gql(w.outsider.token(), TEAM, json!({ "id": w.team_id }))
        .await;
    assert_error(&response, "NOT_FOUND", None);
    assert!(no_data(&response, "team"));
    let teams = app
        .gql_ok(
            w.outsider.token(),
            "{ teams { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(node_ids(&teams["teams"]).is_empty());
}

#[tokio::test]
async fn invitations_carry_a_code_and_expire_in_seven_days() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let invitee = email("new");
    let data = app
        .gql_ok(
            w.owner.token(),
            INVITE_TEAM_MEMBER,
            json!({ "input": { "teamId": w.team_id, "email": invitee, "role": "ADMIN" } }),
        )
        .await;
    let invitation = &data["inviteTeamMember"]["invitation"];
    assert!(invitation["id"].is_string());
    assert!(!invitation["code"].as_str().unwrap().is_empty());
    assert_eq!(invitation["email"], invitee.as_str());
    assert_eq!(invitation["role"], "ADMIN");
    assert_eq!(invitation["team"]["id"], w.team_id.as_str());
    let expires: chrono::DateTime<chrono::Utc> =
        invitation["expiresAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        expires,
        orbit_tests::start_time() + chrono::Duration::days(7)
    );
}

#[tokio::test]
async fn invite_validates_its_input() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let bad_email = app
        .gql(
            w.owner.token(),
            INVITE_TEAM_MEMBER,
            json!({ "input": { "teamId": w.team_id, "email": "nope", "role": "MEMBER" } }),
        )
        .await;
    assert_error(&bad_email, "BAD_USER_INPUT", Some("email"));
    let bad_team = app
        .gql(
            w.owner.token(),
            INVITE_TEAM_MEMBER,
            json!({ "input": { "teamId": w.thread_id, "email": email("x"), "role": "MEMBER" } }),
        )
        .await;
    assert_error(&bad_team, "BAD_USER_INPUT", Some("teamId"));
}

#[tokio::test]
async fn the_invited_user_joins_with_the_invited_role() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let newcomer = app
        .sign_up(&w.keys.publishable_key, &email("newcomer"), "Newt")
        .await;
    let code = app
        .invite(&w.admin.access_token, &w.team_id, &newcomer.email, "ADMIN")
        .await;
    let joined = app.join_team(&newcomer.access_token, &code).await;
    assert_eq!(joined["team"]["id"], w.team_id.as_str());
    assert_eq!(joined["team"]["viewerRole"], "ADMIN");
    assert_eq!(joined["member"]["role"], "ADMIN");
    assert_eq!(joined["member"]["user"]["id"], newcomer.user_id.as_str());

    // Now a member: sees the team and its thread.
    let team = app
        .gql_ok(newcomer.token(), TEAM, json!({ "id": w.team_id }))
        .await;
    assert_eq!(team["team"]["viewerRole"], "ADMIN");
    let thread = app
        .gql_ok(newcomer.token(), THREAD, json!({ "id": w.thread_id }))
        .await;
    assert_eq!(thread["thread"]["id"], w.thread_id.as_str());
}

#[tokio::test]
async fn only_the_invited_email_can_use_a_code_and_only_once() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let invited = app
        .sign_up(&w.keys.publishable_key, &email("invited"), "Ivy")
        .await;
    let code = app
        .invite(&w.owner.access_token, &w.team_id, &invited.email, "MEMBER")
        .await;

    let stolen = app
        .gql(
            w.outsider.token(),
            JOIN_TEAM,
            json!({ "input": { "code": code } }),
        )
        .await;
    assert_error(&stolen, "NOT_FOUND", Some("code"));
    assert!(no_data(&stolen, "joinTeam"));
    let still_out = app
        .gql(w.outsider.token(), TEAM, json!({ "id": w.team_id }))
        .await;
    assert_error(&still_out, "NOT_FOUND", None);

    // The thief's attempt did not burn the code.
    let joined = app.join_team(&invited.access_token, &code).await;
    assert_eq!(joined["member"]["role"], "MEMBER");

    let twice = app
        .gql(
            invited.token(),
            JOIN_TEAM,
            json!({ "input": { "code": code } }),
        )
        .await;
    assert_error(&twice, "CONFLICT", None);

    let garbage = app
        .gql(
            invited.token(),
            JOIN_TEAM,
            json!({ "input": { "code": "inv_nope" } }),
        )
        .await;
    assert_error(&garbage, "NOT_FOUND", Some("code"));
}

#[tokio::test]
async fn an_invitation_expires_after_seven_days() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let late = app
        .sign_up(&w.keys.publishable_key, &email("late"), "Late")
        .await;
    let code = app
        .invite(&w.owner.access_token, &w.team_id, &late.email, "MEMBER")
        .await;
    app.clock
        .advance(chrono::Duration::days(7) + chrono::Duration::minutes(1));
    let relogged = app.log_in(&w.keys.publishable_key, &late.email).await;
    let response = app
        .gql(
            relogged.token(),
            JOIN_TEAM,
            json!({ "input": { "code": code } }),
        )
        .await;
    assert_error(&response, "BAD_USER_INPUT", Some("code"));
    let team = app
        .gql(relogged.token(), TEAM, json!({ "id": w.team_id }))
        .await;
    assert_error(&team, "NOT_FOUND", None);
}

#[tokio::test]
async fn an_invitation_still_works_just_before_it_expires() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let user = app
        .sign_up(&w.keys.publishable_key, &email("just"), "Just")
        .await;
    let code = app
        .invite(&w.owner.access_token, &w.team_id, &user.email, "MEMBER")
        .await;
    app.clock
        .advance(chrono::Duration::days(7) - chrono::Duration::minutes(1));
    let relogged = app.log_in(&w.keys.publishable_key, &user.email).await;
    let joined = app.join_team(&relogged.access_token, &code).await;
    assert_eq!(joined["team"]["id"], w.team_id.as_str());
}

#[tokio::test]
async fn invite_rights_follow_the_inviters_role() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let invite =
        |role: &str| json!({ "input": { "teamId": w.team_id, "email": email("i"), "role": role } });
    for role in ["MEMBER", "ADMIN", "OWNER"] {
        let data = app
            .gql_ok(w.owner.token(), INVITE_TEAM_MEMBER, invite(role))
            .await;
        assert_eq!(data["inviteTeamMember"]["invitation"]["role"], role);
    }
    for role in ["MEMBER", "ADMIN"] {
        let data = app
            .gql_ok(w.admin.token(), INVITE_TEAM_MEMBER, invite(role))
            .await;
        assert_eq!(data["inviteTeamMember"]["invitation"]["role"], role);
    }
    let admin_owner = app
        .gql(w.admin.token(), INVITE_TEAM_MEMBER, invite("OWNER"))
        .await;
    assert_error(&admin_owner, "FORBIDDEN", None);
    let member = app
        .gql(w.member.token(), INVITE_TEAM_MEMBER, invite("MEMBER"))
        .await;
    assert_error(&member, "FORBIDDEN", None);
    let outsider = app
        .gql(w.outsider.token(), INVITE_TEAM_MEMBER, invite("MEMBER"))
        .await;
    assert_error(&outsider, "NOT_FOUND", None);
}

fn role_input(team_id: &str, user_id: &str, role: &str) -> Value {
    json!({ "input": { "teamId": team_id, "userId": user_id, "role": role } })
}

#[tokio::test]
async fn set_team_member_role_is_for_owners() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;

    let data = app
        .gql_ok(
            w.owner.token(),
            SET_TEAM_MEMBER_ROLE,
            role_input(&w.team_id, &w.member.user_id, "ADMIN"),
        )
        .await;
    assert_eq!(data["setTeamMemberRole"]["member"]["role"], "ADMIN");
    assert_eq!(
        data["setTeamMemberRole"]["member"]["user"]["id"],
        w.member.user_id.as_str()
    );
    let team = app
        .gql_ok(w.member.token(), TEAM, json!({ "id": w.team_id }))
        .await;
    assert_eq!(team["team"]["viewerRole"], "ADMIN");

    let by_admin = app
        .gql(
            w.admin.token(),
            SET_TEAM_MEMBER_ROLE,
            role_input(&w.team_id, &w.author.user_id, "ADMIN"),
        )
        .await;
    assert_error(&by_admin, "FORBIDDEN", None);
    let self_promotion = app
        .gql(
            w.author.token(),
            SET_TEAM_MEMBER_ROLE,
            role_input(&w.team_id, &w.author.user_id, "OWNER"),
        )
        .await;
    assert_error(&self_promotion, "FORBIDDEN", None);

    let not_a_member = app
        .gql(
            w.owner.token(),
            SET_TEAM_MEMBER_ROLE,
            role_input(&w.team_id, &w.outsider.user_id, "ADMIN"),
        )
        .await;
    assert_error(&not_a_member, "NOT_FOUND", Some("userId"));

    let by_secret = app
        .gql_ok(
            Some(&w.keys.secret_key),
            SET_TEAM_MEMBER_ROLE,
            role_input(&w.team_id, &w.author.user_id, "ADMIN"),
        )
        .await;
    assert_eq!(by_secret["setTeamMemberRole"]["member"]["role"], "ADMIN");
}

#[tokio::test]
async fn the_last_owner_cannot_step_down_but_one_of_two_can() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let demote_owner = role_input(&w.team_id, &w.owner.user_id, "ADMIN");

    let alone = app
        .gql(w.owner.token(), SET_TEAM_MEMBER_ROLE, demote_owner.clone())
        .await;
    assert_error(&alone, "CONFLICT", None);
    let by_secret = app
        .gql(
            Some(&w.keys.secret_key),
            SET_TEAM_MEMBER_ROLE,
            demote_owner.clone(),
        )
        .await;
    assert_error(&by_secret, "CONFLICT", None);

    app.gql_ok(
        w.owner.token(),
        SET_TEAM_MEMBER_ROLE,
        role_input(&w.team_id, &w.admin.user_id, "OWNER"),
    )
    .await;
    let data = app
        .gql_ok(w.owner.token(), SET_TEAM_MEMBER_ROLE, demote_owner)
        .await;
    assert_eq!(data["setTeamMemberRole"]["member"]["role"], "ADMIN");
    assert_eq!(
        members(&app, &w.admin.access_token, &w.team_id).await,
        sorted(vec![
            (&w.owner.user_id, "ADMIN"),
            (&w.admin.user_id, "OWNER"),
            (&w.member.user_id, "MEMBER"),
            (&w.author.user_id, "MEMBER"),
        ])
    );
}

fn remove_input(team_id: &str, user_id: &str) -> Value {
    json!({ "input": { "teamId": team_id, "userId": user_id } })
}

#[tokio::test]
async fn the_owner_removes_anyone_and_the_removed_lose_access() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    for removed in [&w.admin, &w.member] {
        let data = app
            .gql_ok(
                w.owner.token(),
                REMOVE_TEAM_MEMBER,
                remove_input(&w.team_id, &removed.user_id),
            )
            .await;
        assert_eq!(
            data["removeTeamMember"]["removedUserId"],
            removed.user_id.as_str()
        );
        let team = app
            .gql(removed.token(), TEAM, json!({ "id": w.team_id }))
            .await;
        assert_error(&team, "NOT_FOUND", None);
        let thread = app
            .gql(removed.token(), THREAD, json!({ "id": w.thread_id }))
            .await;
        assert_error(&thread, "NOT_FOUND", None);
        let listed = app
            .gql_ok(
                removed.token(),
                "{ threads { edges { node { id } } } teams { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert!(node_ids(&listed["threads"]).is_empty(), "{listed}");
        assert!(node_ids(&listed["teams"]).is_empty(), "{listed}");
    }
    assert_eq!(
        members(&app, &w.owner.access_token, &w.team_id).await,
        sorted(vec![
            (&w.owner.user_id, "OWNER"),
            (&w.author.user_id, "MEMBER")
        ])
    );
}

#[tokio::test]
async fn an_admin_removes_members_but_not_admins_or_owners() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let second_admin = app
        .sign_up(&w.keys.publishable_key, &email("admin2"), "Second Admin")
        .await;
    app.add_to_team(&w.owner.access_token, &w.team_id, &second_admin, "ADMIN")
        .await;

    let data = app
        .gql_ok(
            w.admin.token(),
            REMOVE_TEAM_MEMBER,
            remove_input(&w.team_id, &w.member.user_id),
        )
        .await;
    assert_eq!(
        data["removeTeamMember"]["removedUserId"],
        w.member.user_id.as_str()
    );
    for target in [&second_admin, &w.owner] {
        let response = app
            .gql(
                w.admin.token(),
                REMOVE_TEAM_MEMBER,
                remove_input(&w.team_id, &target.user_id),
            )
            .await;
        assert_error(&response, "FORBIDDEN", None);
    }
}

#[tokio::test]
async fn a_member_can_leave_but_not_remove_others() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let other = app
        .gql(
            w.member.token(),
            REMOVE_TEAM_MEMBER,
            remove_input(&w.team_id, &w.author.user_id),
        )
        .await;
    assert_error(&other, "FORBIDDEN", None);

    let data = app
        .gql_ok(
            w.member.token(),
            REMOVE_TEAM_MEMBER,
            remove_input(&w.team_id, &w.member.user_id),
        )
        .await;
    assert_eq!(
        data["removeTeamMember"]["removedUserId"],
        w.member.user_id.as_str()
    );
    let team = app
        .gql(w.member.token(), TEAM, json!({ "id": w.team_id }))
        .await;
    assert_error(&team, "NOT_FOUND", None);

    let not_a_member = app
        .gql(
            w.owner.token(),
            REMOVE_TEAM_MEMBER,
            remove_input(&w.team_id, &w.outsider.user_id),
        )
        .await;
    assert_error(&not_a_member, "NOT_FOUND", Some("userId"));
}

#[tokio::test]
async fn the_last_owner_cannot_leave() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let leave = remove_input(&w.team_id, &w.owner.user_id);
    let response = app
        .gql(w.owner.token(), REMOVE_TEAM_MEMBER, leave.clone())
        .await;
    assert_error(&response, "CONFLICT", None);
    let by_secret = app
        .gql(Some(&w.keys.secret_key), REMOVE_TEAM_MEMBER, leave.clone())
        .await;
    assert_error(&by_secret, "CONFLICT", None);
    let team = app
        .gql_ok(w.owner.token(), TEAM, json!({ "id": w.team_id }))
        .await;
    assert_eq!(team["team"]["viewerRole"], "OWNER");

    // With a second owner, the first may go.
    app.gql_ok(
        w.owner.token(),
        SET_TEAM_MEMBER_ROLE,
        role_input(&w.team_id, &w.admin.user_id, "OWNER"),
    )
    .await;
    app.gql_ok(w.owner.token(), REMOVE_TEAM_MEMBER, leave).await;
    let gone = app
        .gql(w.owner.token(), TEAM, json!({ "id": w.team_id }))
        .await;
    assert_error(&gone, "NOT_FOUND", None);
}

#[tokio::test]
async fn the_secret_key_sees_every_team_and_users_see_their_own() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let other_team = app.create_team(&w.outsider.access_token, "Solo").await;

    let all = app
        .gql_ok(
            Some(&w.keys.secret_key),
            "{ teams(first: 100) { edges { node { id viewerRole } } } }",
            json!({}),
        )
        .await;
    let mut ids = node_ids(&all["teams"]);
    ids.sort();
    let mut expected = vec![w.team_id.clone(), other_team.clone()];
    expected.sort();
    assert_eq!(ids, expected);

    let mine = app
        .gql_ok(
            w.member.token(),
            "{ teams { edges { node { id viewerRole } } } }",
            json!({}),
        )
        .await;
    assert_eq!(node_ids(&mine["teams"]), vec![w.team_id.clone()]);
    assert_eq!(mine["teams"]["edges"][0]["node"]["viewerRole"], "MEMBER");
}

#[tokio::test]
async fn any_member_can_create_a_team_thread() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let data = app
        .gql_ok(
            w.member.token(),
            CREATE_THREAD,
            json!({ "input": { "title": "From a member", "teamId": w.team_id } }),
        )
        .await;
    assert_eq!(
        data["createThread"]["thread"]["team"]["id"],
        w.team_id.as_str()
    );
    let outsider = app
        .gql(
            w.outsider.token(),
            CREATE_THREAD,
            json!({ "input": { "title": "From outside", "teamId": w.team_id } }),
        )
        .await;
    assert_error(&outsider, "NOT_FOUND", Some("teamId"));
}

#[tokio::test]
async fn invitations_die_with_their_team() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let newbie = app
        .sign_up(&w.keys.publishable_key, &email("newbie"), "Newbie")
        .await;
    let code = app
        .invite(&w.owner.access_token, &w.team_id, &newbie.email, "MEMBER")
        .await;
    app.gql_ok(
        w.owner.token(),
        DELETE_TEAM,
        json!({ "input": { "id": w.team_id } }),
    )
    .await;
    let response = app
        .gql(
            newbie.token(),
            JOIN_TEAM,
            json!({ "input": { "code": code } }),
        )
        .await;
    assert_error(&response, "NOT_FOUND", Some("code"));
    let teams = app
        .gql_ok(
            newbie.token(),
            "{ teams { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(node_ids(&teams["teams"]).is_empty());
    // The team's messages went with it.
    let message = app
        .gql_ok(
            Some(&w.keys.secret_key),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": w.message_id }),
        )
        .await;
    assert!(message["node"].is_null(), "{message}");
}

#[tokio::test]
async fn a_console_user_is_not_a_user_of_the_app() {
    // The app's owner is a developer (a console user): the app's secret key
    // cannot reach them.
    let app = spawn_app().await;
    let keys = app.create_app("Teams").await;
    let response = app
        .gql(
            Some(&keys.secret_key),
            CREATE_TEAM,
            json!({ "input": { "name": "Dev's", "ownerId": keys.owner_id } }),
        )
        .await;
    assert_error(&response, "NOT_FOUND", Some("ownerId"));
    let user = app
        .gql(
            Some(&keys.secret_key),
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": keys.owner_id }),
        )
        .await;
    assert_error(&user, "NOT_FOUND", None);
}

/// Two owners demote each other at the same moment: one of them must stay owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_owners_cannot_leave_a_team_ownerless() {
    let app = spawn_app().await;
    let people = app.people().await;
    for round in 0..8 {
        let w = app.team_world(&people).await;
        app.gql_ok(
            w.owner.token(),
            SET_TEAM_MEMBER_ROLE,
            role_input(&w.team_id, &w.admin.user_id, "OWNER"),
        )
        .await;
        let (a, b) = if round % 2 == 0 {
            tokio::join!(
                app.gql(
                    w.owner.token(),
                    SET_TEAM_MEMBER_ROLE,
                    role_input(&w.team_id, &w.admin.user_id, "MEMBER"),
                ),
                app.gql(
                    w.admin.token(),
                    SET_TEAM_MEMBER_ROLE,
                    role_input(&w.team_id, &w.owner.user_id, "MEMBER"),
                )
            )
        } else {
            tokio::join!(
                app.gql(
                    w.owner.token(),
                    REMOVE_TEAM_MEMBER,
                    remove_input(&w.team_id, &w.owner.user_id),
                ),
                app.gql(
                    w.admin.token(),
                    REMOVE_TEAM_MEMBER,
                    remove_input(&w.team_id, &w.admin.user_id),
                )
            )
        };
        let owners = members(&app, &w.keys.secret_key, &w.team_id)
            .await
            .into_iter()
            .filter(|(_, role)| role == "OWNER")
            .count();
        assert_eq!(owners, 1, "round {round}: {owners} owners left; {a} / {b}");
    }
}

/// The same invitation used twice at once joins once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_used_twice_at_once_joins_once() {
    let app = spawn_app().await;
    let w = app.new_team_world().await;
    let newbie = app
        .sign_up(&w.keys.publishable_key, &email("racer"), "Racer")
        .await;
    let code = app
        .invite(&w.owner.access_token, &w.team_id, &newbie.email, "MEMBER")
        .await;
    let join = || {
        app.gql(
            newbie.token(),
            JOIN_TEAM,
            json!({ "input": { "code": code } }),
        )
    };
    let (a, b, c) = tokio::join!(join(), join(), join());
    let successes = [&a, &b, &c]
        .iter()
        .filter(|r| r["errors"].is_null())
        .count();
    assert_eq!(successes, 1, "{a}\n{b}\n{c}");
    let count = members(&app, &w.owner.access_token, &w.team_id)
        .await
        .into_iter()
        .filter(|(id, _)| *id == newbie.user_id)
        .count();
    assert_eq!(count, 1);
}
