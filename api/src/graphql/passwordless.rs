//! Login by emailed one-time code and by magic link, over GraphQL; the use
//! cases are `application::passwordless`.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::auth::AuthPayload;
use super::{GqlResult, client_address, services, viewer};
use crate::application::passwordless;

#[derive(InputObject)]
pub struct RequestLoginCodeInput {
    email: String,
}

#[derive(InputObject)]
pub struct VerifyLoginCodeInput {
    email: String,
    /// The six digits from the mail.
    code: String,
}

#[derive(InputObject)]
pub struct RequestMagicLinkInput {
    email: String,
    /// Where the mailed link leads, with `token` added to its query. Its
    /// origin must be one of the app's `allowedRedirectOrigins`.
    redirect_url: String,
}

#[derive(InputObject)]
pub struct VerifyMagicLinkInput {
    /// The `token` query parameter of the link.
    token: String,
}

/// The same for every email, whether it has an account or not.
#[derive(SimpleObject)]
pub struct RequestLoginCodePayload {
    /// Always true: the request was taken. Whether a mail went out is not said.
    ok: bool,
    /// Seconds a mailed code stays valid.
    expires_in: i32,
}

/// The same for every email, whether it has an account or not.
#[derive(SimpleObject)]
pub struct RequestMagicLinkPayload {
    /// Always true: the request was taken. Whether a mail went out is not said.
    ok: bool,
    /// Seconds a mailed link stays valid.
    expires_in: i32,
}

#[derive(Default)]
pub struct PasswordlessMutation;

#[Object]
impl PasswordlessMutation {
    /// Mails a six-digit code that signs in with `verifyLoginCode` (valid 10
    /// minutes, once, 5 tries); it replaces any earlier code. Nothing is sent
    /// to an email without an account unless the app has
    /// `passwordlessSignUp`; the answer is the same either way.
    async fn request_login_code(
        &self,
        ctx: &Context<'_>,
        input: RequestLoginCodeInput,
    ) -> GqlResult<RequestLoginCodePayload> {
        let address = client_address(ctx);
        let lifetime = passwordless::request_login_code(
            services(ctx),
            viewer(ctx),
            address.as_deref(),
            &input.email,
        )
        .await?;
        Ok(RequestLoginCodePayload {
            ok: true,
            expires_in: lifetime.num_seconds() as i32,
        })
    }

    /// Signs in with a mailed code → `AuthPayload`. Every try counts; after
    /// 5 the code is dead.
    async fn verify_login_code(
        &self,
        ctx: &Context<'_>,
        input: VerifyLoginCodeInput,
    ) -> GqlResult<AuthPayload> {
        let address = client_address(ctx);
        let signed_in = passwordless::verify_login_code_and_sign_in(
            services(ctx),
            viewer(ctx),
            address.as_deref(),
            &input.email,
            &input.code,
        )
        .await?;
        Ok(signed_in.into())
    }

    /// Mails a link to `redirectUrl` with `token` added to its query (valid
    /// 15 minutes, once); `verifyMagicLink` signs in with the token. Same
    /// rules for unknown emails as `requestLoginCode`.
    async fn request_magic_link(
        &self,
        ctx: &Context<'_>,
        input: RequestMagicLinkInput,
    ) -> GqlResult<RequestMagicLinkPayload> {
        let address = client_address(ctx);
        let lifetime = passwordless::request_magic_link(
            services(ctx),
            viewer(ctx),
            address.as_deref(),
            &input.email,
            &input.redirect_url,
        )
        .await?;
        Ok(RequestMagicLinkPayload {
            ok: true,
            expires_in: lifetime.num_seconds() as i32,
        })
    }

    /// Signs in with a magic link's token → `AuthPayload`.
    async fn verify_magic_link(
        &self,
        ctx: &Context<'_>,
        input: VerifyMagicLinkInput,
    ) -> GqlResult<AuthPayload> {
        let address = client_address(ctx);
        let signed_in = passwordless::verify_magic_link(
            services(ctx),
            viewer(ctx),
            address.as_deref(),
            &input.token,
        )
        .await?;
        Ok(signed_in.into())
    }
}
