//! Apps and their keys: what the developer's `createApp`, `createApiKey`
//! and the operator's `orbit admin create-app` share.

use orbit_auth::{ApiKeyKind, KeyEnvironment, generate_api_key};
use orbit_domain::entities::{app, user};
use orbit_domain::validation;
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::apps::{self, NewApiKey, NewAppOwner};

use crate::Services;

/// A new key: its plaintext (shown once) and what is stored of it.
pub fn new_api_key(
    kind: ApiKeyKind,
    environment: KeyEnvironment,
    name: String,
) -> (String, NewApiKey) {
    let generated = generate_api_key(kind, environment);
    let stored = NewApiKey {
        kind: kind.as_str(),
        environment: environment.as_str(),
        name,
        lookup_prefix: generated.lookup_prefix.clone(),
        secret_hash: generated.hash.clone(),
    };
    (generated.plaintext, stored)
}

/// An app just made, with the plaintext of its first keys.
pub struct NewApp {
    pub app: app::Model,
    pub owner: user::Model,
    pub publishable_key: String,
    pub secret_key: String,
}

/// Creates an app named `name` with a live publishable and secret key,
/// owned by `owner`, in one transaction: `createApp` and
/// `orbit admin create-app` both come here.
pub async fn create_app_with_keys(
    services: &Services,
    name: &str,
    owner: NewAppOwner,
) -> DomainResult<NewApp> {
    let name = validation::text_line("name", name, validation::MAX_NAME_CHARS)?;
    let new_key = |kind: ApiKeyKind| {
        new_api_key(
            kind,
            KeyEnvironment::Live,
            format!("default {}", kind.as_str()),
        )
    };
    let (publishable_key, publishable) = new_key(ApiKeyKind::Publishable);
    let (secret_key, secret) = new_key(ApiKeyKind::Secret);
    let created = apps::create_with_owner(
        services.db(),
        services.console(),
        services.clock().now(),
        name,
        vec![publishable, secret],
        owner,
    )
    .await?;
    if created.keys.len() != 2 {
        return Err(DomainError::internal("app created without its keys"));
    }
    Ok(NewApp {
        app: created.app,
        owner: created.owner,
        publishable_key,
        secret_key,
    })
}
