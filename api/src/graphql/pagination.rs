//! Relay connections over keyset pages. Cursors are opaque: the row's key,
//! base64url-encoded.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, Edge};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use orbit_domain::validation::page_size;
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::{Page, PageArgs};
use uuid::Uuid;

const DEFAULT_PAGE: u64 = 20;

pub fn encode_cursor(key: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

fn decode_cursor(field: &str, cursor: &str) -> DomainResult<Uuid> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| DomainError::bad_input(field, "not a cursor from this list"))
}

/// Reads Relay's `first/after/last/before` into a keyset request.
pub fn page_args(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> DomainResult<PageArgs> {
    match (first, last) {
        (Some(_), Some(_)) => Err(DomainError::bad_input(
            "last",
            "give `first` or `last`, not both",
        )),
        (_, Some(last)) => {
            if after.is_some() {
                return Err(DomainError::bad_input("after", "`after` goes with `first`"));
            }
            Ok(PageArgs::Backward {
                before: before.map(|c| decode_cursor("before", &c)).transpose()?,
                last: page_size("last", last)?,
            })
        }
        (first, None) => {
            if before.is_some() {
                return Err(DomainError::bad_input(
                    "before",
                    "`before` goes with `last`",
                ));
            }
            Ok(PageArgs::Forward {
                after: after.map(|c| decode_cursor("after", &c)).transpose()?,
                first: first
                    .map(|f| page_size("first", f))
                    .transpose()?
                    .unwrap_or(DEFAULT_PAGE),
            })
        }
    }
}

pub fn forward_args(first: Option<i32>, after: Option<String>) -> DomainResult<PageArgs> {
    page_args(first, after, None, None)
}

pub type Conn<T> = Connection<String, T>;

/// Builds a connection; `key` gives each row's cursor key.
pub fn connection<M, T: OutputType>(
    page: Page<M>,
    key: impl Fn(&M) -> Uuid,
    node: impl Fn(M) -> T,
) -> Conn<T> {
    let mut connection = Connection::new(page.has_previous_page, page.has_next_page);
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|item| Edge::new(encode_cursor(key(&item)), node(item))),
    );
    connection
}
