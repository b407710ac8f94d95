//! Addresses the server will call for an app (webhooks, tools): checked
//! when they are saved, with the same rules the worker applies when it
//! calls them.

use orbit_domain::DomainResult;
use orbit_domain::webhooks as rules;
use url::Url;

use crate::Services;

/// A URL the worker may call: http(s) with a host, no user, password or
/// fragment (`rules::url`), and, for a host written as an IP address, the
/// outbound address rule (names are checked when calling, as they resolve).
pub fn callable_url(services: &Services, field: &str, value: &str) -> DomainResult<Url> {
    let url = rules::url(field, value)?;
    services.outbound().check(&url).map_err(|refused| {
        orbit_domain::DomainError::bad_input(
            field,
            format!("cannot be called from this server: {refused}"),
        )
    })?;
    Ok(url)
}
