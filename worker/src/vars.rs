//! An app's variables as values, secret ones opened: what `{{vars.NAME}}`
//! becomes when an agent's instructions or a tool's call are put together.
//! The API checks text against them when it is saved with the same values.

use std::collections::HashMap;

use orbit_domain::app_vars::VAR_SEAL_PURPOSE;
use orbit_domain::ids::AppScope;
use orbit_domain::{DomainResult, SealContext, Sealer};
use orbit_persistence::{Db, app_vars};

/// The app's variables by name, secret values opened.
pub async fn values(
    db: &Db,
    sealer: &dyn Sealer,
    scope: AppScope,
) -> DomainResult<HashMap<String, String>> {
    let mut values = HashMap::new();
    for var in app_vars::all(db, scope).await? {
        let value = match (var.value, var.value_sealed) {
            (Some(value), _) => value,
            (None, Some(sealed)) => {
                let context = SealContext::new(scope.app_id(), VAR_SEAL_PURPOSE, &var.name);
                sealer.open(&sealed, &context)?
            }
            (None, None) => String::new(),
        };
        values.insert(var.name, value);
    }
    Ok(values)
}

/// Why a run fails when a secret variable does not open.
pub const UNREADABLE: &str =
    "an app variable cannot be read (was ORBIT_SECRETS_KEY changed?): set it again";

/// [`values`] for a run: a secret that does not open is `Ok(Err(..))`, the
/// run's failure, since it will not open on a retry either; a database
/// that cannot be reached stays an error, to try again.
pub async fn for_run(
    db: &Db,
    sealer: &dyn Sealer,
    scope: AppScope,
) -> DomainResult<Result<HashMap<String, String>, &'static str>> {
    match values(db, sealer, scope).await {
        Ok(values) => Ok(Ok(values)),
        Err(error) if error.code == orbit_domain::ErrorCode::Internal => {
            tracing::error!(?error, "an app variable does not open");
            Ok(Err(UNREADABLE))
        }
        Err(error) => Err(error),
    }
}
