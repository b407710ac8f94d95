//! Which ways of signing in an app allows: every sign-in use case asks here
//! first, whatever transport it came by.

use orbit_domain::ids::AppScope;
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::app_settings::{self, AppSettings, LoginMethod};

use crate::Services;

/// The setting that switches `method`, as the API names it (the `field` of
/// the error when it is off).
pub fn login_setting(method: LoginMethod) -> &'static str {
    match method {
        LoginMethod::Password => "passwordLogin",
        LoginMethod::EmailCode => "emailCodeLogin",
        LoginMethod::MagicLink => "magicLinkLogin",
        LoginMethod::OAuth => "oauthLogin",
    }
}

/// The app's settings, once `method` is on for it; FORBIDDEN (on the
/// setting's name) when the app switched it off.
pub async fn require_login_method(
    services: &Services,
    scope: AppScope,
    method: LoginMethod,
) -> DomainResult<AppSettings> {
    let settings = app_settings::get(services.db(), scope).await?;
    if !settings.allows(method) {
        let setting = login_setting(method);
        return Err(DomainError::forbidden(format!(
            "this app does not let users sign in this way ({setting} is off)"
        ))
        .with_field(setting));
    }
    Ok(settings)
}
