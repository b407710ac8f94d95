//! Operator commands (`orbit admin ...`), also used by tests to make apps.

use orbit_auth::{ApiKeyKind, KeyEnvironment, generate_api_key};
use orbit_domain::ids::{AppId, UserId};
use orbit_domain::validation;
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::apps::{self, NewApiKey, Owner};
use serde::Serialize;

use crate::Services;
use crate::graphql::auth::hash_password;

pub struct CreateAppRequest {
    pub name: String,
    pub owner_email: String,
    pub owner_password: String,
}

/// Printed once: the keys are never shown again.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedAppKeys {
    pub app_id: String,
    pub publishable_key: String,
    pub secret_key: String,
    pub owner_id: String,
}

/// Creates an app with a live publishable and secret key, owned by a console
/// user (created with the given password when the email is new).
pub async fn create_app(
    services: &Services,
    request: CreateAppRequest,
) -> DomainResult<CreatedAppKeys> {
    let name = validation::text_line("name", &request.name, validation::MAX_NAME_CHARS)?;
    let email = validation::email("ownerEmail", &request.owner_email)?;
    validation::password("ownerPassword", &request.owner_password)?;
    let password_hash = hash_password(request.owner_password).await?;
    let publishable = generate_api_key(ApiKeyKind::Publishable, KeyEnvironment::Live);
    let secret = generate_api_key(ApiKeyKind::Secret, KeyEnvironment::Live);
    let keys = [
        (&publishable, ApiKeyKind::Publishable),
        (&secret, ApiKeyKind::Secret),
    ]
    .into_iter()
    .map(|(key, kind)| NewApiKey {
        kind: kind.as_str(),
        environment: KeyEnvironment::Live.as_str(),
        name: format!("default {}", kind.as_str()),
        lookup_prefix: key.lookup_prefix.clone(),
        secret_hash: key.hash.clone(),
    })
    .collect();
    let display_name = email
        .display
        .split('@')
        .next()
        .unwrap_or("owner")
        .to_owned();
    let created = apps::create_with_owner(
        services.db(),
        services.console(),
        services.clock().now(),
        name,
        keys,
        Owner {
            email,
            display_name,
            password_hash,
        },
    )
    .await?;
    if created.keys.len() != 2 {
        return Err(DomainError::internal("app created without its keys"));
    }
    Ok(CreatedAppKeys {
        app_id: AppId(created.app.id).to_string(),
        publishable_key: publishable.plaintext,
        secret_key: secret.plaintext,
        owner_id: UserId(created.owner.id).to_string(),
    })
}
