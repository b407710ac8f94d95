//! An app's credentials in the control plane: API keys (created, listed
//! without their secret, revoked) and the rotation of its token signing
//! key. Owners and admins only: the secret key may not mint or revoke keys.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use orbit_auth::{ApiKeyKind as KeyKind, KeyEnvironment, KeyId};
use orbit_domain::entities::{api_key, signing_key};
use orbit_domain::ids::{ApiKeyId, AppId, AppScope};
use orbit_domain::policy::AppAction;
use orbit_domain::{DomainError, DomainResult, validation};
use orbit_persistence::{api_keys, signing_keys};

use super::apps::viewable;
use super::pagination::{Conn, CursorList};
use super::{GqlResult, services, viewer};
use crate::application::access;
use crate::application::apps::new_api_key;

/// Characters of a key shown in lists: its kind, environment and four
/// random characters, enough to tell keys apart and nothing to use.
const HINT_CHARS: usize = 12;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ApiKeyKind")]
pub enum ApiKeyKind {
    /// `pk_…`: safe in clients; signs users up and in.
    Publishable,
    /// `sk_…`: server side only; acts for the whole app.
    Secret,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "ApiKeyEnvironment")]
pub enum ApiKeyEnvironment {
    Live,
    Test,
}

pub struct ApiKeyNode(pub api_key::Model);

#[Object(name = "ApiKey")]
impl ApiKeyNode {
    async fn id(&self) -> ID {
        ID(ApiKeyId(self.0.id).to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> GqlResult<ApiKeyKind> {
        match KeyKind::parse(&self.0.kind) {
            Some(KeyKind::Publishable) => Ok(ApiKeyKind::Publishable),
            Some(KeyKind::Secret) => Ok(ApiKeyKind::Secret),
            None => Err(DomainError::internal("unknown API key kind")),
        }
    }
    async fn environment(&self) -> GqlResult<ApiKeyEnvironment> {
        match KeyEnvironment::parse(&self.0.environment) {
            Some(KeyEnvironment::Live) => Ok(ApiKeyEnvironment::Live),
            Some(KeyEnvironment::Test) => Ok(ApiKeyEnvironment::Test),
            None => Err(DomainError::internal("unknown API key environment")),
        }
    }
    /// The key's first characters (`sk_live_AbC1`), to recognise it: the
    /// key itself is shown once, when it is made.
    async fn hint(&self) -> String {
        let prefix = &self.0.lookup_prefix;
        format!("{}…", prefix.get(..HINT_CHARS).unwrap_or(prefix))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Set once revoked: no request is let in with it from then on.
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
    /// When a request last used it, to the hour.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
}

/// A version of the app's access-token signing key (HS256, derived from
/// the server's secret; never shown).
pub struct SigningKeyNode(pub signing_key::Model);

#[Object(name = "SigningKey")]
impl SigningKeyNode {
    /// What tokens it signs carry in their header's `kid`.
    async fn kid(&self) -> String {
        KeyId::new(AppId(self.0.app_id).to_string(), self.0.version).to_string()
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When a newer version took over. Tokens this one signed before then
    /// stay valid until they expire, unless another rotation follows.
    async fn retired_at(&self) -> Option<DateTime<Utc>> {
        self.0.retired_at
    }
    /// Whether it signs new tokens.
    async fn current(&self) -> bool {
        self.0.retired_at.is_none()
    }
}

/// `App.apiKeys`: every key of the app, revoked ones too, oldest first.
pub(super) async fn list_api_keys(
    ctx: &Context<'_>,
    app: AppId,
    first: Option<i32>,
    after: Option<String>,
) -> GqlResult<Conn<ApiKeyNode>> {
    let scope = viewable(ctx, app).await?;
    let list = CursorList::new("apiKeys", app);
    let page = api_keys::list(services(ctx).db(), scope, list.forward_args(first, after)?).await?;
    Ok(list.connection(page, |k| k.id, ApiKeyNode))
}

/// `App.signingKeys`: every version, newest first.
pub(super) async fn list_signing_keys(
    ctx: &Context<'_>,
    app: AppId,
    first: Option<i32>,
    after: Option<String>,
) -> GqlResult<Conn<SigningKeyNode>> {
    let scope = viewable(ctx, app).await?;
    let list = CursorList::new("signingKeys", app);
    let page =
        signing_keys::list(services(ctx).db(), scope, list.forward_args(first, after)?).await?;
    Ok(list.connection(page, |k| k.id, SigningKeyNode))
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// Required for developers.
    app_id: Option<ID>,
    kind: ApiKeyKind,
    name: String,
    #[graphql(default_with = "ApiKeyEnvironment::Live")]
    environment: ApiKeyEnvironment,
}

#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    api_key: ApiKeyNode,
    /// The whole key (`pk_live_…`, `sk_test_…`): shown only here, stored
    /// only as a hash.
    key: String,
}

#[derive(InputObject)]
pub struct RevokeApiKeyInput {
    /// Required for developers.
    app_id: Option<ID>,
    /// The key's id (`key_…`).
    id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeApiKeyPayload {
    api_key: ApiKeyNode,
}

#[derive(InputObject)]
pub struct RotateSigningKeyInput {
    /// Required for developers.
    app_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct RotateSigningKeyPayload {
    /// The new version, which signs from now on.
    signing_key: SigningKeyNode,
    /// The version it replaced: what it signed stays valid until it expires.
    retired_key: SigningKeyNode,
}

/// The app, once the caller holds its keys (owners and admins).
async fn key_manager(ctx: &Context<'_>, app_id: &Option<ID>) -> DomainResult<AppScope> {
    let (scope, _) = access::managed_app(
        services(ctx),
        viewer(ctx),
        app_id.as_ref().map(|id| id.as_str()),
        AppAction::ManageKeys,
    )
    .await?;
    Ok(scope)
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// Makes a new key for the app (owners and admins); its plaintext is
    /// in this answer only.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> GqlResult<CreateApiKeyPayload> {
        let services = services(ctx);
        let scope = key_manager(ctx, &input.app_id).await?;
        let name = validation::text_line("name", &input.name, validation::MAX_NAME_CHARS)?;
        let kind = match input.kind {
            ApiKeyKind::Publishable => KeyKind::Publishable,
            ApiKeyKind::Secret => KeyKind::Secret,
        };
        let environment = match input.environment {
            ApiKeyEnvironment::Live => KeyEnvironment::Live,
            ApiKeyEnvironment::Test => KeyEnvironment::Test,
        };
        let (key, stored) = new_api_key(kind, environment, name);
        let api_key =
            api_keys::create(services.db(), scope, services.clock().now(), stored).await?;
        Ok(CreateApiKeyPayload {
            api_key: ApiKeyNode(api_key),
            key,
        })
    }

    /// Revokes a key of the app (owners and admins): every request with it
    /// is refused from now on, on every server, and its open sockets close
    /// (4403). Revoking a revoked key changes nothing.
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        input: RevokeApiKeyInput,
    ) -> GqlResult<RevokeApiKeyPayload> {
        let services = services(ctx);
        let scope = key_manager(ctx, &input.app_id).await?;
        let id = ApiKeyId::parse_field(&input.id, "id")?;
        let api_key = api_keys::revoke(services.db(), scope, id, services.clock().now()).await?;
        Ok(RevokeApiKeyPayload {
            api_key: ApiKeyNode(api_key),
        })
    }

    /// Makes a new version of the app's token signing key current (owners
    /// and admins). Tokens signed by the version it replaces stay valid
    /// until they expire (15 minutes at most); a second rotation ends them
    /// at once.
    async fn rotate_signing_key(
        &self,
        ctx: &Context<'_>,
        input: RotateSigningKeyInput,
    ) -> GqlResult<RotateSigningKeyPayload> {
        let services = services(ctx);
        let scope = key_manager(ctx, &input.app_id).await?;
        let rotation = signing_keys::rotate(services.db(), scope, services.clock().now()).await?;
        services.signing_key_cache().forget(scope.app_id());
        Ok(RotateSigningKeyPayload {
            signing_key: SigningKeyNode(rotation.current),
            retired_key: SigningKeyNode(rotation.retired),
        })
    }
}
