//! App variables: set, delete and list them (the app's secret key and its
//! developers: viewers read, developers and up change), and check text
//! that refers to them as `{{vars.NAME}}` when it is saved.

use std::collections::{HashMap, HashSet};

use orbit_domain::app_vars::{self as rules, VAR_SEAL_PURPOSE};
use orbit_domain::entities::app_var;
use orbit_domain::ids::AppScope;
use orbit_domain::policy::AppAction;
use orbit_domain::{DomainResult, SealContext};
use orbit_persistence::app_vars::{self, StoredValue};

use super::access;
use crate::Services;
use crate::viewer::Viewer;

/// Sets a variable (made or replaced); a secret value is sealed.
pub async fn set(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
    name: &str,
    value: &str,
    secret: bool,
) -> DomainResult<app_var::Model> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::Build).await?;
    let name = rules::var_name("name", name)?;
    let value = rules::var_value("value", value)?;
    let stored = if secret {
        let context = SealContext::new(scope.app_id(), VAR_SEAL_PURPOSE, &name);
        StoredValue::Sealed(services.sealer().seal(&value, &context))
    } else {
        StoredValue::Plain(value)
    };
    app_vars::set(services.db(), scope, &name, stored, services.clock().now()).await
}

/// Deletes a variable; what still refers to it fails when it runs, saying so.
pub async fn delete(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
    name: &str,
) -> DomainResult<String> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::Build).await?;
    app_vars::delete(services.db(), scope, name).await?;
    Ok(name.to_owned())
}

/// The app's variables, by name.
pub async fn list(
    services: &Services,
    viewer: &Viewer,
    app_id: Option<&str>,
) -> DomainResult<Vec<app_var::Model>> {
    let (scope, _) = access::managed_app(services, viewer, app_id, AppAction::View).await?;
    app_vars::all(services.db(), scope).await
}

/// The app's variables as they are now, for checking text that refers to
/// them before it is saved.
pub struct Vars(HashMap<String, String>);

impl Vars {
    pub async fn of(services: &Services, scope: AppScope) -> DomainResult<Self> {
        let values =
            orbit_worker::vars::values(services.db(), services.sealer().as_ref(), scope).await?;
        Ok(Self(values))
    }

    /// Refuses `text` (the input `field`) when it names a variable the app
    /// does not have.
    pub fn check(&self, field: &str, text: &str) -> DomainResult<()> {
        let known: HashSet<String> = self.0.keys().cloned().collect();
        rules::check_known(field, text, &known)
    }

    /// `text` with the variables put in (after [`Vars::check`]).
    pub fn put_in(&self, text: &str) -> String {
        rules::substitute(text, |name| self.0.get(name).cloned())
            .unwrap_or_else(|_| text.to_owned())
    }
}
