use orbit_domain::DomainError;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// A database failure: `UNAVAILABLE` when the database cannot be reached
/// (the request may succeed once it is back), else internal. Its text goes
/// to the logs, never to a client.
pub fn db_error(error: DbErr) -> DomainError {
    if is_unavailable(&error) {
        crate::connection_trust::saw_unreachable();
        DomainError::unavailable(error)
    } else {
        DomainError::internal(error)
    }
}

/// Whether `error` says the database is out of reach rather than that the
/// statement failed: no connection could be had, the connection broke, or
/// the server is shutting down, starting or full.
pub fn is_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            sqlx_unavailable(error)
        }
        _ => false,
    }
}

fn sqlx_unavailable(error: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match error {
        Error::Io(_)
        | Error::Tls(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => true,
        // Postgres: class 08 (connection exception), 57P01-57P03 (the
        // server shutting down or not yet accepting), 53300 (too many
        // connections).
        Error::Database(database) => database.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

pub(crate) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
