use orbit_domain::DomainError;
use sea_orm::{DbErr, SqlErr};

/// A database failure is internal: its text goes to the logs, never to a client.
pub fn db_error(error: DbErr) -> DomainError {
    DomainError::internal(error)
}

pub(crate) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
