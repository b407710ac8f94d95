//! Relay connections over keyset pages.
//!
//! A cursor is opaque: base64url of a format byte, a tag of the list it came
//! from and the row's key. The tag binds the cursor to its list, so a cursor
//! of another list (another thread's messages, the threads list, another
//! team's threads) is refused on `after`/`before` rather than read as a
//! position in this one, which would silently give a page of the wrong
//! place. The tag is not a secret: the page query is scoped by app and
//! access whatever the cursor says; it catches mistakes, not attackers.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, Edge};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use orbit_domain::validation::page_size;
use orbit_domain::{DomainError, DomainResult};
use orbit_persistence::{Page, PageArgs};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const DEFAULT_PAGE: u64 = 20;
/// The first byte of a cursor: its format, so a later format can tell
/// cursors of this one apart.
const FORMAT: u8 = 1;
const TAG_LEN: usize = 8;
const CURSOR_LEN: usize = 1 + TAG_LEN + 16;
/// Cursors before lists were bound were the bare 16-byte key.
const UNBOUND_LEN: usize = 16;

/// The list a connection pages: its kind and what it belongs to or is
/// filtered by, e.g. `messages` of `thr_…`, or `threads` of `app_…` in
/// `team_…`. Two connections page the same list exactly when these are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorList {
    tag: [u8; TAG_LEN],
}

impl CursorList {
    /// `kind` names the connection (`messages`, `threads`, …); `parent` is
    /// everything that chooses its rows (the parent's ID, the filters).
    pub fn new(kind: &str, parent: impl std::fmt::Display) -> Self {
        // 64 bits of SHA-256: stable across processes and versions (every
        // server of a cluster must agree), and cheap: once per connection.
        let digest = Sha256::new()
            .chain_update(kind.as_bytes())
            .chain_update([0])
            .chain_update(parent.to_string().as_bytes())
            .finalize();
        let mut tag = [0; TAG_LEN];
        tag.copy_from_slice(&digest[..TAG_LEN]);
        Self { tag }
    }

    /// Reads Relay's `first/after/last/before` into a keyset request; a
    /// cursor must come from this list.
    pub fn page_args(
        &self,
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
                    before: before.map(|c| self.decode("before", &c)).transpose()?,
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
                    after: after.map(|c| self.decode("after", &c)).transpose()?,
                    first: first
                        .map(|f| page_size("first", f))
                        .transpose()?
                        .unwrap_or(DEFAULT_PAGE),
                })
            }
        }
    }

    /// `first/after` only, for lists that page forward.
    pub fn forward_args(
        &self,
        first: Option<i32>,
        after: Option<String>,
    ) -> DomainResult<PageArgs> {
        self.page_args(first, after, None, None)
    }

    /// Builds the connection of a page of this list; `key` gives each row's
    /// cursor key.
    pub fn connection<M, T: OutputType>(
        &self,
        page: Page<M>,
        key: impl Fn(&M) -> Uuid,
        node: impl Fn(M) -> T,
    ) -> Conn<T> {
        let mut connection = Connection::new(page.has_previous_page, page.has_next_page);
        connection.edges.extend(
            page.items
                .into_iter()
                .map(|item| Edge::new(self.encode(key(&item)), node(item))),
        );
        connection
    }

    /// The cursor of the row with `key` in this list.
    pub fn encode(&self, key: Uuid) -> String {
        let mut bytes = [0; CURSOR_LEN];
        bytes[0] = FORMAT;
        bytes[1..=TAG_LEN].copy_from_slice(&self.tag);
        bytes[1 + TAG_LEN..].copy_from_slice(key.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn decode(&self, field: &str, cursor: &str) -> DomainResult<Uuid> {
        let not_ours = || DomainError::bad_input(field, "not a cursor from this list");
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| not_ours())?;
        if bytes.len() == UNBOUND_LEN {
            // Minted before cursors named their list: which list it came
            // from cannot be known, so it is not trusted to be this one.
            return Err(DomainError::bad_input(
                field,
                "a cursor from an earlier version of the API: page again from the start",
            ));
        }
        if bytes.len() != CURSOR_LEN || bytes[0] != FORMAT || bytes[1..=TAG_LEN] != self.tag {
            return Err(not_ours());
        }
        Uuid::from_slice(&bytes[1 + TAG_LEN..]).map_err(|_| not_ours())
    }
}

pub type Conn<T> = Connection<String, T>;

/// An optional filter in a list's parent: the ID, or `all` without one.
pub struct OrAll<T>(pub Option<T>);

impl<T: std::fmt::Display> std::fmt::Display for OrAll<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(id) => id.fmt(f),
            None => f.write_str("all"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn after(list: &CursorList, cursor: &str) -> DomainResult<Option<Uuid>> {
        match list.forward_args(Some(1), Some(cursor.to_owned()))? {
            PageArgs::Forward { after, .. } => Ok(after),
            PageArgs::Backward { .. } => unreachable!(),
        }
    }

    #[test]
    fn a_cursor_reads_back_only_on_its_own_list() {
        let key = Uuid::now_v7();
        let thread_a = CursorList::new("messages", "thr_a");
        let cursor = thread_a.encode(key);
        assert!(cursor.len() <= 40, "{cursor}");
        assert_eq!(after(&thread_a, &cursor).unwrap(), Some(key));
        for other in [
            CursorList::new("messages", "thr_b"),
            CursorList::new("threads", "thr_a"),
            // The separator keeps kind and parent apart.
            CursorList::new("messagesthr_a", ""),
        ] {
            let error = after(&other, &cursor).unwrap_err();
            assert_eq!(error.field.as_deref(), Some("after"));
        }
        let backward = thread_a.page_args(None, None, Some(2), Some(cursor.clone()));
        assert!(matches!(
            backward.unwrap(),
            PageArgs::Backward { before: Some(k), last: 2 } if k == key
        ));
        let error = CursorList::new("messages", "thr_b")
            .page_args(None, None, Some(2), Some(cursor))
            .unwrap_err();
        assert_eq!(error.field.as_deref(), Some("before"));
    }

    #[test]
    fn unbound_and_malformed_cursors_are_refused() {
        let list = CursorList::new("users", "app_x");
        let unbound = URL_SAFE_NO_PAD.encode(Uuid::now_v7().as_bytes());
        let error = after(&list, &unbound).unwrap_err();
        assert!(
            error.message.contains("earlier version"),
            "{}",
            error.message
        );
        let mut wrong_format = URL_SAFE_NO_PAD.decode(list.encode(Uuid::nil())).unwrap();
        wrong_format[0] = 2;
        for bad in [
            "not a cursor".to_owned(),
            String::new(),
            URL_SAFE_NO_PAD.encode(wrong_format),
            URL_SAFE_NO_PAD.encode([1u8; CURSOR_LEN + 1]),
        ] {
            assert_eq!(
                after(&list, &bad).unwrap_err().field.as_deref(),
                Some("after"),
                "{bad}"
            );
        }
    }

    proptest::proptest! {
        /// Any text as a cursor: refused or read, never a panic; a cursor
        /// reads back on its own list and on no other.
        #[test]
        fn cursors_read_back_only_on_their_list(
            text in "\\PC{0,60}",
            key in proptest::array::uniform16(proptest::prelude::any::<u8>()),
            parent in "[a-z0-9_]{1,20}",
            other in "[a-z0-9_]{1,20}",
        ) {
            let list = CursorList::new("messages", &parent);
            let _ = list.decode("after", &text);
            let key = Uuid::from_bytes(key);
            let cursor = list.encode(key);
            proptest::prop_assert_eq!(list.decode("after", &cursor).unwrap(), key);
            if other != parent {
                let elsewhere = CursorList::new("messages", &other);
                proptest::prop_assert!(elsewhere.decode("after", &cursor).is_err());
            }
            proptest::prop_assert!(CursorList::new("threads", &parent).decode("after", &cursor).is_err());
        }
    }
}
