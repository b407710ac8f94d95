//! Team mutations.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use orbit_auth::{generate_token, hash_token};
use orbit_domain::ids::{TeamId, UserId};
use orbit_domain::policy::{TeamAccess, TeamAction, authorize_team};
use orbit_domain::roles;
use orbit_domain::{DomainError, validation};
use orbit_persistence::teams::{self, NewInvitation};
use orbit_persistence::users;

use super::types::{TeamInvitationNode, TeamMemberNode, TeamNode, TeamRole};
use super::{GqlResult, services, viewer};
use crate::application::access;
use crate::services::INVITATION_TTL;
use crate::viewer::Actor;

#[derive(InputObject)]
pub struct CreateTeamInput {
    name: String,
    /// With a secret key: the user who will own the team. Users own the teams they create.
    owner_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct CreateTeamPayload {
    team: TeamNode,
}

#[derive(InputObject)]
pub struct UpdateTeamInput {
    id: ID,
    name: String,
}

#[derive(SimpleObject)]
pub struct UpdateTeamPayload {
    team: TeamNode,
}

#[derive(InputObject)]
pub struct DeleteTeamInput {
    id: ID,
}

#[derive(SimpleObject)]
pub struct DeleteTeamPayload {
    deleted_team_id: ID,
}

#[derive(InputObject)]
pub struct InviteTeamMemberInput {
    team_id: ID,
    email: String,
    role: TeamRole,
}

#[derive(SimpleObject)]
pub struct InviteTeamMemberPayload {
    invitation: TeamInvitationNode,
}

#[derive(InputObject)]
pub struct JoinTeamInput {
    code: String,
}

#[derive(SimpleObject)]
pub struct JoinTeamPayload {
    team: TeamNode,
    member: TeamMemberNode,
}

#[derive(InputObject)]
pub struct RemoveTeamMemberInput {
    team_id: ID,
    user_id: ID,
}

#[derive(SimpleObject)]
pub struct RemoveTeamMemberPayload {
    team: TeamNode,
    removed_user_id: ID,
}

#[derive(InputObject)]
pub struct SetTeamMemberRoleInput {
    team_id: ID,
    user_id: ID,
    role: TeamRole,
}

#[derive(SimpleObject)]
pub struct SetTeamMemberRolePayload {
    member: TeamMemberNode,
}

#[derive(Default)]
pub struct TeamMutation;

#[Object]
impl TeamMutation {
    /// Creates a team; its creator (or `ownerId`, with a secret key) becomes its owner.
    async fn create_team(
        &self,
        ctx: &Context<'_>,
        input: CreateTeamInput,
    ) -> GqlResult<CreateTeamPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let name = validation::text_line("name", &input.name, validation::MAX_NAME_CHARS)?;
        let owner = match (viewer.actor()?, input.owner_id) {
            (Actor::User(_), Some(_)) => {
                return Err(
                    DomainError::forbidden("only a secret key may name the owner")
                        .with_field("ownerId"),
                );
            }
            (Actor::User(user), None) => user,
            (Actor::App, None) => {
                return Err(DomainError::bad_input(
                    "ownerId",
                    "a secret key must name the team's owner",
                ));
            }
            (Actor::App, Some(owner)) => {
                let owner = UserId::parse_field(&owner, "ownerId")?;
                users::find(services.db(), viewer.app(), owner)
                    .await?
                    .ok_or_else(|| DomainError::not_found("user").with_field("ownerId"))?;
                owner
            }
        };
        let team = teams::create(
            services.db(),
            viewer.app(),
            services.clock().now(),
            name,
            owner,
        )
        .await?;
        Ok(CreateTeamPayload {
            team: TeamNode(team),
        })
    }

    async fn update_team(
        &self,
        ctx: &Context<'_>,
        input: UpdateTeamInput,
    ) -> GqlResult<UpdateTeamPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let id = TeamId::parse_field(&input.id, "id")?;
        let name = validation::text_line("name", &input.name, validation::MAX_NAME_CHARS)?;
        let (_, access) = access::team(services, viewer, id, "id").await?;
        authorize_team(access, TeamAction::Rename)?;
        let team = teams::rename(
            services.db(),
            viewer.app(),
            id,
            name,
            services.clock().now(),
        )
        .await?;
        Ok(UpdateTeamPayload {
            team: TeamNode(team),
        })
    }

    /// Deletes the team and its threads.
    async fn delete_team(
        &self,
        ctx: &Context<'_>,
        input: DeleteTeamInput,
    ) -> GqlResult<DeleteTeamPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let id = TeamId::parse_field(&input.id, "id")?;
        let (_, access) = access::team(services, viewer, id, "id").await?;
        authorize_team(access, TeamAction::Delete)?;
        teams::delete(services.db(), viewer.app(), id, services.clock().now()).await?;
        Ok(DeleteTeamPayload {
            deleted_team_id: input.id,
        })
    }

    /// Invites an email address; the code it returns (shown once) lets the
    /// user with that email join, within 7 days.
    async fn invite_team_member(
        &self,
        ctx: &Context<'_>,
        input: InviteTeamMemberInput,
    ) -> GqlResult<InviteTeamMemberPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let id = TeamId::parse_field(&input.team_id, "teamId")?;
        let email = validation::email("email", &input.email)?;
        let role: roles::TeamRole = input.role.into();
        let (team, access) = access::team(services, viewer, id, "teamId").await?;
        authorize_team(access, TeamAction::Invite { role })?;
        let code = generate_token("inv_");
        let now = services.clock().now();
        let invitation = teams::create_invitation(
            services.db(),
            viewer.app(),
            now,
            NewInvitation {
                team: id,
                email_normalized: email.normalized,
                role,
                code_hash: hash_token(&code),
                invited_by: viewer.user(),
                expires_at: now + INVITATION_TTL,
            },
        )
        .await?;
        Ok(InviteTeamMemberPayload {
            invitation: TeamInvitationNode {
                id: invitation.id,
                code: Some(code),
                email: invitation.email_normalized,
                role: input.role,
                expires_at: invitation.expires_at,
                team,
            },
        })
    }

    /// Joins a team with an invitation code addressed to the caller's email.
    async fn join_team(
        &self,
        ctx: &Context<'_>,
        input: JoinTeamInput,
    ) -> GqlResult<JoinTeamPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let user = viewer.require_user()?;
        let joiner = users::find(services.db(), viewer.app(), user)
            .await?
            .ok_or_else(|| DomainError::unauthenticated("the signed-in user no longer exists"))?;
        let (team, member) = teams::accept_invitation(
            services.db(),
            viewer.app(),
            &hash_token(input.code.trim()),
            &joiner,
            services.clock().now(),
        )
        .await?;
        Ok(JoinTeamPayload {
            team: TeamNode(team),
            member: TeamMemberNode(member),
        })
    }

    /// Removes a member (or, for your own id, leaves). The last owner cannot leave.
    async fn remove_team_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveTeamMemberInput,
    ) -> GqlResult<RemoveTeamMemberPayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let id = TeamId::parse_field(&input.team_id, "teamId")?;
        let target = UserId::parse_field(&input.user_id, "userId")?;
        let (team, access) = access::team(services, viewer, id, "teamId").await?;
        let target_role = teams::member_role(services.db(), viewer.app(), id, target)
            .await?
            .ok_or_else(|| DomainError::not_found("team member").with_field("userId"))?;
        let is_self = viewer.user() == Some(target);
        authorize_team(
            access,
            TeamAction::RemoveMember {
                target: target_role,
                is_self,
            },
        )?;
        teams::remove_member(
            services.db(),
            viewer.app(),
            id,
            target,
            services.clock().now(),
        )
        .await?;
        Ok(RemoveTeamMemberPayload {
            team: TeamNode(team),
            removed_user_id: input.user_id,
        })
    }

    /// Changes a member's role (owners only). The last owner cannot step down.
    async fn set_team_member_role(
        &self,
        ctx: &Context<'_>,
        input: SetTeamMemberRoleInput,
    ) -> GqlResult<SetTeamMemberRolePayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let id = TeamId::parse_field(&input.team_id, "teamId")?;
        let target = UserId::parse_field(&input.user_id, "userId")?;
        let (_, access) = access::team(services, viewer, id, "teamId").await?;
        let from = teams::member_role(services.db(), viewer.app(), id, target)
            .await?
            .ok_or_else(|| DomainError::not_found("team member").with_field("userId"))?;
        let to: roles::TeamRole = input.role.into();
        if access != TeamAccess::App {
            authorize_team(access, TeamAction::SetRole { from, to })?;
        }
        let member = teams::set_role(
            services.db(),
            viewer.app(),
            id,
            target,
            to,
            services.clock().now(),
        )
        .await?;
        Ok(SetTeamMemberRolePayload {
            member: TeamMemberNode(member),
        })
    }
}
