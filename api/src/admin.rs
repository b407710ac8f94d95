//! Operator commands (`orbit admin ...`), also used by tests to make apps,
//! and what they share with the developer's `createApp`.

use orbit_auth::generate_token;
use orbit_domain::ids::{AppId, UserId};
use orbit_domain::validation;
use orbit_domain::{DomainResult, ErrorCode};
use orbit_persistence::apps::{NewAppOwner, Owner};
use orbit_persistence::users::{self, NewUser};
use serde::Serialize;

use crate::Services;
use crate::application::apps::create_app_with_keys;
use crate::application::sessions::hash_password;

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
    validation::text_line("name", &request.name, validation::MAX_NAME_CHARS)?;
    let email = validation::email("ownerEmail", &request.owner_email)?;
    validation::password("ownerPassword", &request.owner_password)?;
    let password_hash = hash_password(services, request.owner_password).await?;
    let display_name = local_part(&email.display, "owner");
    let owner = NewAppOwner::ByEmail(Owner {
        email,
        display_name,
        password_hash,
    });
    let created = create_app_with_keys(services, &request.name, owner).await?;
    Ok(CreatedAppKeys {
        app_id: AppId(created.app.id).to_string(),
        publishable_key: created.publishable_key,
        secret_key: created.secret_key,
        owner_id: UserId(created.owner.id).to_string(),
    })
}

fn local_part(email: &str, otherwise: &str) -> String {
    email.split('@').next().unwrap_or(otherwise).to_owned()
}

/// The developer `orbit serve` makes on a first start, with the password
/// to print: shown this once, stored only hashed.
#[derive(Debug, Clone)]
pub struct FirstDeveloper {
    pub email: String,
    pub password: String,
}

/// Creates a developer with a random password when the console has no
/// users at all (a fresh server), so there is someone to sign in as;
/// `None` otherwise. Two processes starting together on one fresh
/// database both try; the unique email lets one of them make it.
pub async fn ensure_first_developer(
    services: &Services,
    email: &str,
) -> DomainResult<Option<FirstDeveloper>> {
    let console = services.console();
    if users::any(services.db(), console).await? {
        return Ok(None);
    }
    let email = validation::email("email", email)?;
    // 32 random bytes, base64url: well over the 8-character minimum.
    let password = generate_token("");
    let new_user = NewUser {
        display_name: local_part(&email.display, "developer"),
        email: email.clone(),
        password_hash: Some(hash_password(services, password.clone()).await?),
    };
    match users::create(services.db(), console, services.clock().now(), new_user).await {
        Ok(_) => Ok(Some(FirstDeveloper {
            email: email.display,
            password,
        })),
        Err(error) if error.code == ErrorCode::Conflict => Ok(None),
        Err(error) => Err(error),
    }
}
