//! Presence: `User.presence` and `setPresence`. Who is online follows from
//! open sockets (`crate::realtime::presence`); a user may only say they are
//! away, or back.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use orbit_domain::DomainError;

use super::events::PresenceStatus;
use super::{GqlResult, services, viewer};

#[derive(InputObject)]
pub struct SetPresenceInput {
    /// `AWAY` or `ONLINE`. `OFFLINE` is not something to set: a user is
    /// offline when they have no socket open.
    status: PresenceStatus,
}

#[derive(SimpleObject)]
pub struct SetPresencePayload {
    /// The caller's status now: `OFFLINE` when they have no socket open, in
    /// which case nothing was stored.
    status: PresenceStatus,
}

#[derive(Default)]
pub struct PresenceMutation;

#[Object]
impl PresenceMutation {
    /// Marks the caller away, or back online, for as long as they keep a
    /// socket open; their teams' `teamEvents` subscribers get
    /// `presence.changed` when it changes.
    async fn set_presence(
        &self,
        ctx: &Context<'_>,
        input: SetPresenceInput,
    ) -> GqlResult<SetPresencePayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let user = viewer.require_user()?;
        let away = match input.status {
            PresenceStatus::Online => false,
            PresenceStatus::Away => true,
            PresenceStatus::Offline => {
                return Err(DomainError::bad_input(
                    "status",
                    "OFFLINE cannot be set: a user is offline once none of their sockets is open",
                ));
            }
        };
        let status = services
            .presence()
            .set_away(services, viewer.app(), user, away)
            .await
            .map_err(DomainError::internal)?;
        Ok(SetPresencePayload {
            status: status.into(),
        })
    }
}
