//! `approveDevice`: a signed-in user approves or denies a device's sign-in
//! (RFC 8628) by the user code it shows. The device then gets tokens for
//! that user from `/oauth/token` (`crate::http::oauth`).

use async_graphql::{Context, InputObject, Object, SimpleObject};
use orbit_auth::{hash_token, normalize_user_code};
use orbit_domain::DomainError;
use orbit_persistence::device_flow::{self, Decision, GuessLimit};

use super::{GqlResult, services, viewer};
use crate::services::{DEVICE_CODE_MAX_FAILURES, DEVICE_CODE_TTL};

#[derive(InputObject)]
pub struct ApproveDeviceInput {
    /// The code the device shows (`BCDF-GHJK`): any case, dash optional.
    user_code: String,
    /// True signs the device in as the caller; false refuses it.
    approve: bool,
}

#[derive(SimpleObject)]
pub struct ApproveDevicePayload {
    /// True when the device was approved, false when it was denied.
    approved: bool,
}

#[derive(Default)]
pub struct DeviceMutation;

#[Object]
impl DeviceMutation {
    /// Approves or denies the pending device sign-in with this user code, for
    /// the caller (a user of the app the device asked for). An unknown,
    /// expired or decided code, or one of another app, is `NOT_FOUND`; after
    /// 5 of those within 10 minutes the caller gets `RATE_LIMITED` until
    /// the oldest is 10 minutes old.
    async fn approve_device(
        &self,
        ctx: &Context<'_>,
        input: ApproveDeviceInput,
    ) -> GqlResult<ApproveDevicePayload> {
        let services = services(ctx);
        let viewer = viewer(ctx);
        let user = viewer.require_user()?;
        let user_code_hash = normalize_user_code(&input.user_code).map(|code| hash_token(&code));
        let decision = device_flow::decide(
            services.db(),
            viewer.app(),
            user,
            user_code_hash.as_deref(),
            input.approve,
            services.clock().now(),
            GuessLimit {
                max_failures: DEVICE_CODE_MAX_FAILURES,
                window: DEVICE_CODE_TTL,
            },
        )
        .await?;
        match decision {
            Decision::Decided => Ok(ApproveDevicePayload {
                approved: input.approve,
            }),
            Decision::NotFound => Err(DomainError::not_found("device code").with_field("userCode")),
            Decision::TooManyFailures => Err(DomainError::rate_limited(
                "too many wrong device codes: try again in a few minutes",
            )
            .with_field("userCode")),
        }
    }
}
