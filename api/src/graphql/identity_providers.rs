//! The outside OAuth providers an app's users log in with: configured by the
//! app's secret key or its owners and admins (`AppAction::Configure`), read
//! by every developer of the app (`View`). The client secret is written,
//! never read back: it is stored sealed.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use orbit_domain::entities::identity_provider;
use orbit_domain::identity_providers::{
    self as rules, MAX_CLAIM_CHARS, MAX_CLIENT_ID_CHARS, MAX_ISSUER_CHARS, Preset, TokenAuth,
};
use orbit_domain::ids::{AppScope, IdentityProviderId};
use orbit_domain::policy::AppAction;
use orbit_domain::validation;
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::identity_providers::{self, ProviderFields, scope_list};

use super::{GqlResult, services, viewer};
use crate::Services;
use crate::application::access;
use crate::application::oauth_login::{RequestHost, callback_url, secret_context};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "IdentityProviderPreset")]
pub enum PresetKind {
    /// Google: fills the endpoints, `openid email profile`, issuer
    /// `https://accounts.google.com`, subject `sub`, `email_verified`.
    Google,
    /// GitHub: fills the endpoints, `read:user user:email`, issuer
    /// `https://github.com`, subject `id`, the verified primary email from
    /// `/user/emails`.
    Github,
    /// Any authorization-code provider: give its endpoints.
    Custom,
}

impl From<PresetKind> for Preset {
    fn from(kind: PresetKind) -> Self {
        match kind {
            PresetKind::Google => Preset::Google,
            PresetKind::Github => Preset::Github,
            PresetKind::Custom => Preset::Custom,
        }
    }
}

/// How Orbit authenticates at the provider's token endpoint.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ClientAuthMethod {
    /// HTTP Basic with the client id and secret (`client_secret_basic`).
    Basic,
    /// In the form body (`client_secret_post`).
    Post,
}

impl From<ClientAuthMethod> for TokenAuth {
    fn from(method: ClientAuthMethod) -> Self {
        match method {
            ClientAuthMethod::Basic => TokenAuth::Basic,
            ClientAuthMethod::Post => TokenAuth::Post,
        }
    }
}

pub struct IdentityProviderNode {
    model: identity_provider::Model,
    callback_url: Option<String>,
}

impl IdentityProviderNode {
    fn new(ctx: &Context<'_>, model: identity_provider::Model) -> Self {
        let host = ctx.data_opt::<RequestHost>().map(|host| host.0.as_str());
        Self {
            model,
            callback_url: callback_url(services(ctx), host),
        }
    }
}

#[Object(name = "IdentityProvider")]
impl IdentityProviderNode {
    async fn id(&self) -> ID {
        ID(IdentityProviderId(self.model.id).to_string())
    }
    /// What front ends name it in `startOAuthLogin` (`google`).
    async fn slug(&self) -> &str {
        &self.model.slug
    }
    async fn display_name(&self) -> &str {
        &self.model.display_name
    }
    async fn preset(&self) -> PresetKind {
        match Preset::parse(&self.model.preset) {
            Some(Preset::Google) => PresetKind::Google,
            Some(Preset::Github) => PresetKind::Github,
            _ => PresetKind::Custom,
        }
    }
    async fn client_id(&self) -> &str {
        &self.model.client_id
    }
    async fn authorization_url(&self) -> &str {
        &self.model.authorization_url
    }
    async fn token_url(&self) -> &str {
        &self.model.token_url
    }
    async fn userinfo_url(&self) -> &str {
        &self.model.userinfo_url
    }
    /// A GitHub-style list of the person's emails (`[{email, primary,
    /// verified}]`), read for the verified primary address.
    async fn emails_url(&self) -> Option<&str> {
        self.model.emails_url.as_deref()
    }
    async fn scopes(&self) -> Vec<String> {
        scope_list(&self.model)
    }
    /// With the subject, what links an identity to a user.
    async fn issuer(&self) -> &str {
        &self.model.issuer
    }
    async fn subject_claim(&self) -> &str {
        &self.model.subject_claim
    }
    async fn email_claim(&self) -> &str {
        &self.model.email_claim
    }
    /// A boolean claim saying the provider checked the email; null: its
    /// emails count as checked (or come from `emailsUrl`).
    async fn email_verified_claim(&self) -> Option<&str> {
        self.model.email_verified_claim.as_deref()
    }
    async fn name_claim(&self) -> Option<&str> {
        self.model.name_claim.as_deref()
    }
    async fn client_auth(&self) -> ClientAuthMethod {
        match TokenAuth::parse(&self.model.client_auth) {
            Some(TokenAuth::Post) => ClientAuthMethod::Post,
            _ => ClientAuthMethod::Basic,
        }
    }
    /// Whether a person without an account gets one on first login.
    async fn allow_sign_up(&self) -> bool {
        self.model.allow_sign_up
    }
    /// The redirect URI to register at the provider: Orbit's callback
    /// (`ORBIT_PUBLIC_URL`, else the host this request came to).
    async fn callback_url(&self) -> Option<&str> {
        self.callback_url.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }
}

/// What a front end needs to offer a provider's button; anyone who can
/// see the app may read it (`App.loginProviders`).
#[derive(SimpleObject)]
pub struct LoginProvider {
    slug: String,
    display_name: String,
    preset: PresetKind,
}

/// `identityProviders(appId)` and `App.identityProviders`: the whole configuration, for the app's developers
/// and secret key.
pub(super) async fn list(
    ctx: &Context<'_>,
    app_id: Option<&str>,
) -> GqlResult<Vec<IdentityProviderNode>> {
    let (scope, _) =
        access::managed_app(services(ctx), viewer(ctx), app_id, AppAction::View).await?;
    let providers = identity_providers::list(services(ctx).db(), scope).await?;
    Ok(providers
        .into_iter()
        .map(|model| IdentityProviderNode::new(ctx, model))
        .collect())
}

/// `App.loginProviders`.
pub(super) async fn login_providers(
    services: &Services,
    scope: AppScope,
) -> GqlResult<Vec<LoginProvider>> {
    let providers = identity_providers::list(services.db(), scope).await?;
    Ok(providers
        .into_iter()
        .map(|model| LoginProvider {
            preset: match Preset::parse(&model.preset) {
                Some(Preset::Google) => PresetKind::Google,
                Some(Preset::Github) => PresetKind::Github,
                _ => PresetKind::Custom,
            },
            slug: model.slug,
            display_name: model.display_name,
        })
        .collect())
}

#[derive(InputObject)]
pub struct CreateIdentityProviderInput {
    /// The app to configure: required for developers (owners and admins),
    /// may be omitted with the app's secret key.
    app_id: Option<ID>,
    /// Lower-case letters, digits and dashes; unique in the app.
    slug: String,
    preset: PresetKind,
    /// Shown on login buttons; the preset's name (or the slug) when omitted.
    display_name: Option<String>,
    client_id: String,
    /// Stored sealed; never returned.
    client_secret: String,
    /// Required for CUSTOM; a preset's own when omitted (give them for
    /// GitHub Enterprise, say).
    authorization_url: Option<String>,
    token_url: Option<String>,
    userinfo_url: Option<String>,
    emails_url: Option<String>,
    /// The preset's when omitted; CUSTOM: `openid email profile`.
    scopes: Option<Vec<String>>,
    /// CUSTOM: the authorization URL's origin when omitted. It cannot be
    /// changed later: identities are linked by it.
    issuer: Option<String>,
    /// CUSTOM defaults: `sub`, `email`, `email_verified`, `name`.
    subject_claim: Option<String>,
    email_claim: Option<String>,
    email_verified_claim: Option<String>,
    name_claim: Option<String>,
    /// The preset's when omitted; CUSTOM: BASIC.
    client_auth: Option<ClientAuthMethod>,
    /// Default true: a person without an account signs up on first login.
    allow_sign_up: Option<bool>,
}

#[derive(InputObject)]
pub struct UpdateIdentityProviderInput {
    app_id: Option<ID>,
    id: ID,
    slug: Option<String>,
    display_name: Option<String>,
    client_id: Option<String>,
    /// A new secret (rotation); omitted keeps the current one.
    client_secret: Option<String>,
    authorization_url: Option<String>,
    token_url: Option<String>,
    userinfo_url: Option<String>,
    /// null stops reading an email list.
    emails_url: MaybeUndefined<String>,
    scopes: Option<Vec<String>>,
    subject_claim: Option<String>,
    email_claim: Option<String>,
    /// null: the provider's emails count as checked.
    email_verified_claim: MaybeUndefined<String>,
    /// null: new accounts are named after their email.
    name_claim: MaybeUndefined<String>,
    client_auth: Option<ClientAuthMethod>,
    allow_sign_up: Option<bool>,
}

#[derive(InputObject)]
pub struct DeleteIdentityProviderInput {
    app_id: Option<ID>,
    id: ID,
}

#[derive(SimpleObject)]
pub struct IdentityProviderPayload {
    identity_provider: IdentityProviderNode,
}

#[derive(SimpleObject)]
pub struct DeleteIdentityProviderPayload {
    deleted_identity_provider_id: ID,
}

/// Checks an endpoint: https (http to loopback when the server allows
/// private addresses) and, for those the server calls, the outbound rule.
fn endpoint(services: &Services, field: &str, value: &str, called: bool) -> DomainResult<String> {
    let outbound = services.outbound();
    let url = rules::endpoint_url(field, value, outbound.allows_private())?;
    if called && let Err(error) = outbound.check(&url) {
        return Err(DomainError::bad_input(field, error.to_string()));
    }
    Ok(url.to_string())
}

fn claim(field: &str, value: &str) -> DomainResult<String> {
    rules::token(field, value, MAX_CLAIM_CHARS)
}

fn optional_claim(
    field: &str,
    value: MaybeUndefined<String>,
) -> DomainResult<Option<Option<String>>> {
    Ok(match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(claim(field, &value)?)),
    })
}

fn display_name(value: &str) -> DomainResult<String> {
    validation::text_line("displayName", value, validation::MAX_NAME_CHARS)
}

fn seal_secret(
    services: &Services,
    scope: AppScope,
    id: IdentityProviderId,
    secret: &str,
) -> DomainResult<String> {
    let secret = rules::client_secret("clientSecret", secret)?;
    Ok(services.sealer().seal(&secret, &secret_context(scope, id)))
}

/// The fields of a new provider: the preset's, then what the input gives.
fn new_fields(
    services: &Services,
    scope: AppScope,
    id: IdentityProviderId,
    input: CreateIdentityProviderInput,
) -> DomainResult<ProviderFields> {
    let slug = rules::slug("slug", &input.slug)?;
    let preset = Preset::from(input.preset);
    let defaults = preset.defaults();
    let required = |given: Option<String>, preset_value: Option<&str>, field: &str| {
        given
            .or_else(|| preset_value.map(str::to_owned))
            .ok_or_else(|| DomainError::bad_input(field, "is required for a CUSTOM provider"))
    };
    let authorization_url = endpoint(
        services,
        "authorizationUrl",
        &required(
            input.authorization_url,
            defaults.map(|d| d.authorization_url),
            "authorizationUrl",
        )?,
        false,
    )?;
    let token_url = endpoint(
        services,
        "tokenUrl",
        &required(input.token_url, defaults.map(|d| d.token_url), "tokenUrl")?,
        true,
    )?;
    let userinfo_url = endpoint(
        services,
        "userinfoUrl",
        &required(
            input.userinfo_url,
            defaults.map(|d| d.userinfo_url),
            "userinfoUrl",
        )?,
        true,
    )?;
    let emails_url = input
        .emails_url
        .or_else(|| defaults.and_then(|d| d.emails_url).map(str::to_owned))
        .map(|url| endpoint(services, "emailsUrl", &url, true))
        .transpose()?;
    let scopes = match input.scopes {
        Some(scopes) => rules::scopes("scopes", &scopes)?,
        None => defaults
            .map(|d| d.scopes)
            .unwrap_or(&["openid", "email", "profile"])
            .iter()
            .map(|scope| (*scope).to_owned())
            .collect(),
    };
    let issuer = match (input.issuer, defaults) {
        (Some(issuer), _) => rules::token("issuer", &issuer, MAX_ISSUER_CHARS)?,
        (None, Some(defaults)) => defaults.issuer.to_owned(),
        (None, None) => url::Url::parse(&authorization_url)
            .map_err(DomainError::internal)?
            .origin()
            .ascii_serialization(),
    };
    let claim_or = |given: Option<String>, default: &str, field: &str| match given {
        Some(value) => claim(field, &value),
        None => Ok(default.to_owned()),
    };
    let subject_claim = claim_or(
        input.subject_claim,
        defaults.map_or("sub", |d| d.subject_claim),
        "subjectClaim",
    )?;
    let email_claim = claim_or(
        input.email_claim,
        defaults.map_or("email", |d| d.email_claim),
        "emailClaim",
    )?;
    let email_verified_claim = match input.email_verified_claim {
        Some(value) => Some(claim("emailVerifiedClaim", &value)?),
        None => defaults
            .map_or(Some("email_verified"), |d| d.email_verified_claim)
            .map(str::to_owned),
    };
    let name_claim = match input.name_claim {
        Some(value) => Some(claim("nameClaim", &value)?),
        None => defaults
            .map_or(Some("name"), |d| d.name_claim)
            .map(str::to_owned),
    };
    let display = match input.display_name {
        Some(name) => display_name(&name)?,
        None => defaults.map_or_else(|| slug.clone(), |d| d.display_name.to_owned()),
    };
    let client_auth = input
        .client_auth
        .map(TokenAuth::from)
        .or_else(|| defaults.map(|d| d.client_auth))
        .unwrap_or(TokenAuth::Basic);
    Ok(ProviderFields {
        slug,
        display_name: display,
        preset: preset.as_str().to_owned(),
        client_id: rules::token("clientId", &input.client_id, MAX_CLIENT_ID_CHARS)?,
        client_secret_sealed: seal_secret(services, scope, id, &input.client_secret)?,
        authorization_url,
        token_url,
        userinfo_url,
        emails_url,
        scopes,
        issuer,
        subject_claim,
        email_claim,
        email_verified_claim,
        name_claim,
        client_auth: client_auth.as_str().to_owned(),
        allow_sign_up: input.allow_sign_up.unwrap_or(true),
    })
}

/// A stored provider's fields with the input's changes.
fn changed_fields(
    services: &Services,
    scope: AppScope,
    id: IdentityProviderId,
    current: &identity_provider::Model,
    input: UpdateIdentityProviderInput,
) -> DomainResult<ProviderFields> {
    let mut fields = ProviderFields::of(current);
    if let Some(slug) = input.slug {
        fields.slug = rules::slug("slug", &slug)?;
    }
    if let Some(name) = input.display_name {
        fields.display_name = display_name(&name)?;
    }
    if let Some(client_id) = input.client_id {
        fields.client_id = rules::token("clientId", &client_id, MAX_CLIENT_ID_CHARS)?;
    }
    if let Some(secret) = input.client_secret {
        fields.client_secret_sealed = seal_secret(services, scope, id, &secret)?;
    }
    if let Some(url) = input.authorization_url {
        fields.authorization_url = endpoint(services, "authorizationUrl", &url, false)?;
    }
    if let Some(url) = input.token_url {
        fields.token_url = endpoint(services, "tokenUrl", &url, true)?;
    }
    if let Some(url) = input.userinfo_url {
        fields.userinfo_url = endpoint(services, "userinfoUrl", &url, true)?;
    }
    match input.emails_url {
        MaybeUndefined::Undefined => {}
        MaybeUndefined::Null => fields.emails_url = None,
        MaybeUndefined::Value(url) => {
            fields.emails_url = Some(endpoint(services, "emailsUrl", &url, true)?);
        }
    }
    if let Some(scopes) = input.scopes {
        fields.scopes = rules::scopes("scopes", &scopes)?;
    }
    if let Some(value) = input.subject_claim {
        fields.subject_claim = claim("subjectClaim", &value)?;
    }
    if let Some(value) = input.email_claim {
        fields.email_claim = claim("emailClaim", &value)?;
    }
    if let Some(value) = optional_claim("emailVerifiedClaim", input.email_verified_claim)? {
        fields.email_verified_claim = value;
    }
    if let Some(value) = optional_claim("nameClaim", input.name_claim)? {
        fields.name_claim = value;
    }
    if let Some(method) = input.client_auth {
        fields.client_auth = TokenAuth::from(method).as_str().to_owned();
    }
    if let Some(allow) = input.allow_sign_up {
        fields.allow_sign_up = allow;
    }
    Ok(fields)
}

async fn configured_app(ctx: &Context<'_>, app_id: Option<&ID>) -> DomainResult<AppScope> {
    let (scope, _) = access::managed_app(
        services(ctx),
        viewer(ctx),
        app_id.map(|id| id.as_str()),
        AppAction::Configure,
    )
    .await?;
    Ok(scope)
}

#[derive(Default)]
pub struct IdentityProviderMutation;

#[Object]
impl IdentityProviderMutation {
    /// Adds an outside OAuth provider the app's users log in with (the
    /// app's secret key, or its owners and admins). Presets fill Google's
    /// and GitHub's endpoints.
    async fn create_identity_provider(
        &self,
        ctx: &Context<'_>,
        input: CreateIdentityProviderInput,
    ) -> GqlResult<IdentityProviderPayload> {
        let services = services(ctx);
        let scope = configured_app(ctx, input.app_id.as_ref()).await?;
        let id = IdentityProviderId::generate();
        let fields = new_fields(services, scope, id, input)?;
        let model =
            identity_providers::create(services.db(), scope, id, fields, services.clock().now())
                .await?;
        Ok(IdentityProviderPayload {
            identity_provider: IdentityProviderNode::new(ctx, model),
        })
    }

    /// Changes a provider: fields left out keep their value; `clientSecret`
    /// rotates the secret. The issuer stays (identities are linked by it).
    async fn update_identity_provider(
        &self,
        ctx: &Context<'_>,
        input: UpdateIdentityProviderInput,
    ) -> GqlResult<IdentityProviderPayload> {
        let services = services(ctx);
        let scope = configured_app(ctx, input.app_id.as_ref()).await?;
        let id = IdentityProviderId::parse_field(&input.id, "id")?;
        let current = identity_providers::find(services.db(), scope, id)
            .await?
            .ok_or_else(|| DomainError::not_found("identity provider").with_field("id"))?;
        let fields = changed_fields(services, scope, id, &current, input)?;
        let model =
            identity_providers::update(services.db(), scope, id, fields, services.clock().now())
                .await?;
        Ok(IdentityProviderPayload {
            identity_provider: IdentityProviderNode::new(ctx, model),
        })
    }

    /// Removes a provider and its logins in flight. Identities it linked stay
    /// with their users: adding a provider with the same issuer again finds them.
    async fn delete_identity_provider(
        &self,
        ctx: &Context<'_>,
        input: DeleteIdentityProviderInput,
    ) -> GqlResult<DeleteIdentityProviderPayload> {
        let services = services(ctx);
        let scope = configured_app(ctx, input.app_id.as_ref()).await?;
        let id = IdentityProviderId::parse_field(&input.id, "id")?;
        identity_providers::delete(services.db(), scope, id).await?;
        Ok(DeleteIdentityProviderPayload {
            deleted_identity_provider_id: input.id,
        })
    }
}
