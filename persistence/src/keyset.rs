//! Keyset pagination: a page is found by seeking to its key through an index,
//! so its cost does not grow with how far into the list it is (no OFFSET).

use orbit_domain::DomainResult;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

use crate::db_error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageArgs {
    /// `first` items after `after` (from the start when `None`).
    Forward { after: Option<Uuid>, first: u64 },
    /// `last` items before `before` (from the end when `None`).
    Backward { before: Option<Uuid>, last: u64 },
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    /// In the list's natural order, whichever way the page was read.
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        }
    }
}

/// Reads one page of `select` ordered by the unique `key` column.
/// `newest_first` says whether the natural order is descending.
///
/// `leading` is the column the query filters by equality and its index starts
/// with (`thread_id` for `(thread_id, id)`). Ordering by it first changes no
/// result, but only that index can supply the order, so the planner cannot
/// pick a walk of the primary key that filters out other threads' rows,
/// which is slow when statistics misjudge a thread's size.
pub async fn page<E, C>(
    conn: &C,
    select: Select<E>,
    leading: Option<E::Column>,
    key: E::Column,
    newest_first: bool,
    args: PageArgs,
) -> DomainResult<Page<E::Model>>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let (cursor, limit, backward) = match args {
        PageArgs::Forward { after, first } => (after, first, false),
        PageArgs::Backward { before, last } => (before, last, true),
    };
    // Reading backward is reading the reversed order forward.
    let descending = newest_first != backward;
    let mut select = select;
    if let Some(cursor) = cursor {
        select = if descending {
            select.filter(key.lt(cursor))
        } else {
            select.filter(key.gt(cursor))
        };
    }
    let order = if descending { Order::Desc } else { Order::Asc };
    if let Some(leading) = leading {
        select = select.order_by(leading, order.clone());
    }
    let mut items = select
        .order_by(key, order)
        .limit(limit + 1)
        .all(conn)
        .await
        .map_err(db_error)?;
    let has_more = items.len() as u64 > limit;
    items.truncate(limit as usize);
    if backward {
        items.reverse();
    }
    Ok(Page {
        items,
        // Relay lets these be cheap: a cursor given means items lie beyond it.
        has_next_page: if backward { cursor.is_some() } else { has_more },
        has_previous_page: if backward { has_more } else { cursor.is_some() },
    })
}
