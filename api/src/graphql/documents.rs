//! Parsed documents, kept: a client sends the same few documents again and
//! again, so each distinct document is parsed once per process and its
//! parse reused (parsing was a visible share of a small request's CPU).
//! The same store answers Apollo's automatic persisted queries: a request
//! may carry only the SHA-256 of its document (`extensions.persistedQuery`),
//! which is answered from here or with `PERSISTED_QUERY_NOT_FOUND`, and the
//! client then sends the document with its hash once to store it.
//!
//! Documents are keyed by the SHA-256 of their text, which is what a
//! persisted query names. The store is bounded by the text it holds
//! ([`MAX_TEXT_BYTES`]); the least recently used documents go first, and a
//! document larger than [`MAX_KEPT_DOCUMENT_BYTES`] is parsed every time
//! rather than pushing out many small ones. Each process keeps its own: a
//! hash another process stored is answered `PERSISTED_QUERY_NOT_FOUND`
//! here, and the client sends the document again, as the protocol intends.
//!
//! What is kept is the parse only: every request is still checked against
//! the shape limits and for NUL text in its own variables
//! ([`DocumentChecks`]), and validated.
//!
//! Those checks run here, on the parsed document, rather than as
//! async-graphql extensions: a schema with any extension resolves every
//! field through the extension chain (a registry lookup, a formatted type
//! name and boxed futures per field), which was a seventh of a page's CPU
//! while no extension of Orbit's looks at fields at all.

use std::sync::Mutex;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::registry::Registry;
use async_graphql::{ErrorExtensionValues, Request, ServerError};
use lru::LruCache;
use orbit_domain::DomainError;
use sha2::{Digest, Sha256};

use super::input_text::refuse_nul;
use super::limits::QueryShapeLimits;
use super::observed::{Operation, operation};

/// The text, in bytes, of all the documents a process keeps.
pub const MAX_TEXT_BYTES: usize = 8 * 1024 * 1024;
/// A document longer than this is parsed on every request, never kept.
pub const MAX_KEPT_DOCUMENT_BYTES: usize = 64 * 1024;
/// The code (and, as Apollo's clients expect, the message) of a hash this
/// process does not know.
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
const PERSISTED_QUERY_NOT_FOUND_MESSAGE: &str = "PersistedQueryNotFound";

type DocumentHash = [u8; 32];

pub struct Documents {
    kept: Mutex<Kept>,
    checks: DocumentChecks,
}

/// What every document is checked for before it runs.
pub struct DocumentChecks {
    pub limits: QueryShapeLimits,
    /// The schema's types, for the types of arguments (the NUL check names
    /// an input object's fields, and a JSON scalar as one input).
    pub registry: Registry,
}

impl DocumentChecks {
    fn check(&self, request: &Request, document: &ExecutableDocument) -> Result<(), ServerError> {
        self.limits.check(document)?;
        refuse_nul(&self.registry, document, &request.variables)
    }
}

/// A request ready to run: its document is in it, checked.
#[derive(Debug)]
pub struct Prepared {
    /// The type of the operation the request runs, when known.
    pub runs: Option<OperationType>,
    /// Its type and name, for `/metrics` and the access log.
    pub operation: Operation,
}

struct Kept {
    documents: LruCache<DocumentHash, KeptDocument>,
    text_bytes: usize,
}

struct KeptDocument {
    document: ExecutableDocument,
    text_bytes: usize,
}

/// Why a request's document could not be found or accepted.
#[derive(Debug)]
pub enum DocumentError {
    /// A persisted query's hash this process does not hold: the client
    /// sends the document with it next.
    PersistedQueryNotFound,
    /// The persisted-query extension is malformed or its hash does not
    /// match the document.
    Refused(DomainError),
    /// The document is over a shape limit or its input holds a NUL.
    Invalid(ServerError),
}

impl DocumentError {
    /// The error as a GraphQL error, in the shape `present_errors` leaves
    /// errors in.
    pub fn into_server_error(self) -> ServerError {
        match self {
            DocumentError::PersistedQueryNotFound => {
                let mut error = ServerError::new(PERSISTED_QUERY_NOT_FOUND_MESSAGE, None);
                let mut extensions = ErrorExtensionValues::default();
                extensions.set("code", PERSISTED_QUERY_NOT_FOUND);
                error.extensions = Some(extensions);
                error
            }
            DocumentError::Refused(domain) => {
                async_graphql::Error::new_with_source(domain).into_server_error(Default::default())
            }
            DocumentError::Invalid(error) => error,
        }
    }
}

impl Documents {
    pub fn new(checks: DocumentChecks) -> Self {
        Self {
            kept: Mutex::new(Kept {
                documents: LruCache::unbounded(),
                text_bytes: 0,
            }),
            checks,
        }
    }

    /// Gives the request its parsed document: kept, or parsed now and
    /// kept; for a persisted query's hash alone, kept or
    /// [`DocumentError::PersistedQueryNotFound`]; then checks it
    /// ([`DocumentError::Invalid`]). A document that does not parse is
    /// left for execution to refuse with the parser's own error.
    pub fn prepare(&self, request: &mut Request) -> Result<Prepared, DocumentError> {
        let found = self.document(request)?;
        let requested = request.operation_name.as_deref();
        let Some(document) = found else {
            return Ok(Prepared {
                runs: None,
                operation: Operation::unknown(requested),
            });
        };
        self.checks
            .check(request, &document)
            .map_err(DocumentError::Invalid)?;
        let prepared = Prepared {
            runs: operation_type(&document, requested),
            operation: operation(&document, requested),
        };
        request.set_parsed_query(document);
        Ok(prepared)
    }

    fn document(&self, request: &mut Request) -> Result<Option<ExecutableDocument>, DocumentError> {
        let persisted = match request.extensions.remove("persistedQuery") {
            Some(value) => Some(persisted_hash(value)?),
            None => None,
        };
        if request.query.is_empty() {
            let Some(hash) = persisted else {
                return Ok(None);
            };
            let document = self
                .get(&hash)
                .ok_or(DocumentError::PersistedQueryNotFound)?;
            return Ok(Some(document));
        }
        let hash: DocumentHash = Sha256::digest(request.query.as_bytes()).into();
        if persisted.is_some_and(|named| named != hash) {
            return Err(DocumentError::Refused(DomainError::bad_input(
                "extensions.persistedQuery.sha256Hash",
                "is not the SHA-256 of the query",
            )));
        }
        if let Some(document) = self.get(&hash) {
            return Ok(Some(document));
        }
        let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
            return Ok(None);
        };
        self.keep(hash, &document, request.query.len());
        Ok(Some(document))
    }

    fn get(&self, hash: &DocumentHash) -> Option<ExecutableDocument> {
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.documents.get(hash).map(|kept| kept.document.clone())
    }

    fn keep(&self, hash: DocumentHash, document: &ExecutableDocument, text_bytes: usize) {
        if text_bytes > MAX_KEPT_DOCUMENT_BYTES {
            return;
        }
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let kept = &mut *kept;
        if let Some(replaced) = kept.documents.put(
            hash,
            KeptDocument {
                document: document.clone(),
                text_bytes,
            },
        ) {
            kept.text_bytes -= replaced.text_bytes;
        }
        kept.text_bytes += text_bytes;
        while kept.text_bytes > MAX_TEXT_BYTES {
            let Some((_, evicted)) = kept.documents.pop_lru() else {
                break;
            };
            kept.text_bytes -= evicted.text_bytes;
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .documents
            .len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The hash a persisted-query extension names (`{"version": 1,
/// "sha256Hash": "<64 hex digits>"}`).
fn persisted_hash(value: async_graphql::Value) -> Result<DocumentHash, DocumentError> {
    let refused = |field: &str, message: &str| {
        DocumentError::Refused(DomainError::bad_input(
            format!("extensions.persistedQuery.{field}"),
            message,
        ))
    };
    let async_graphql::Value::Object(fields) = value else {
        return Err(refused(
            "version",
            "persistedQuery must be an object with version and sha256Hash",
        ));
    };
    match fields.get("version") {
        Some(async_graphql::Value::Number(version)) if version.as_i64() == Some(1) => {}
        _ => return Err(refused("version", "only version 1 is supported")),
    }
    let Some(async_graphql::Value::String(hex)) = fields.get("sha256Hash") else {
        return Err(refused("sha256Hash", "must be the query's SHA-256 in hex"));
    };
    decode_hash(hex).ok_or_else(|| refused("sha256Hash", "must be 64 hexadecimal digits"))
}

fn decode_hash(hex: &str) -> Option<DocumentHash> {
    if hex.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (byte, pair) in hash.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let digit = |c: u8| (c as char).to_digit(16);
        *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(hash)
}

/// The type of the operation a request runs: the one named, or the only
/// one. `None` when the name matches none (execution then refuses it).
pub fn operation_type(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<OperationType> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| operation.node.ty)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations
            .values()
            .next()
            .map(|operation| operation.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::QueryLimits;

    impl Default for Documents {
        /// The default limits, and no schema: every input is walked as
        /// untyped.
        fn default() -> Self {
            Documents::new(DocumentChecks {
                limits: QueryShapeLimits {
                    limits: QueryLimits::default(),
                    introspection: true,
                },
                registry: Registry::default(),
            })
        }
    }

    fn hex(hash: &DocumentHash) -> String {
        hash.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    fn persisted(request: Request, hash: &str) -> Request {
        let mut request = request;
        request.extensions.insert(
            "persistedQuery".to_owned(),
            async_graphql::value!({ "version": 1, "sha256Hash": hash }),
        );
        request
    }

    #[test]
    fn a_document_is_parsed_once_and_reused() {
        let documents = Documents::default();
        let mut first = Request::new("{ __typename }");
        let prepared = documents.prepare(&mut first).expect("prepared");
        assert_eq!(prepared.runs, Some(OperationType::Query));
        let mut second = Request::new("{ __typename }");
        let prepared = documents.prepare(&mut second).expect("prepared");
        assert_eq!(prepared.runs, Some(OperationType::Query));
        assert_eq!(prepared.operation.kind, "query");
        assert_eq!(documents.len(), 1);
    }

    #[test]
    fn a_hash_alone_is_found_only_once_its_document_was_sent() {
        let documents = Documents::default();
        let text = "query Hello { __typename }";
        let hash = hex(&Sha256::digest(text.as_bytes()).into());
        let mut alone = persisted(Request::new(""), &hash);
        assert!(matches!(
            documents.prepare(&mut alone),
            Err(DocumentError::PersistedQueryNotFound)
        ));
        let mut with_text = persisted(Request::new(text), &hash);
        documents.prepare(&mut with_text).expect("stored");
        let mut alone = persisted(Request::new(""), &hash);
        let prepared = documents.prepare(&mut alone).expect("found");
        assert_eq!(prepared.runs, Some(OperationType::Query));
        assert_eq!(prepared.operation.name.as_ref(), "Hello");
        // Upper-case hex names the same document.
        let mut upper = persisted(Request::new(""), &hash.to_uppercase());
        documents.prepare(&mut upper).expect("found");
    }

    #[test]
    fn a_hash_that_is_not_the_documents_is_refused() {
        let documents = Documents::default();
        let mut lying = persisted(Request::new("{ __typename }"), &"0".repeat(64));
        let Err(DocumentError::Refused(error)) = documents.prepare(&mut lying) else {
            panic!("a wrong hash must be refused");
        };
        assert_eq!(
            error.field.as_deref(),
            Some("extensions.persistedQuery.sha256Hash")
        );
        let mut short = persisted(Request::new(""), "abc");
        assert!(matches!(
            documents.prepare(&mut short),
            Err(DocumentError::Refused(_))
        ));
    }

    #[test]
    fn the_store_is_bounded_by_the_text_it_holds() {
        let documents = Documents::default();
        // Each document just under the largest kept, so few fit.
        let field = "a".repeat(MAX_KEPT_DOCUMENT_BYTES - 64);
        let fits = MAX_TEXT_BYTES / MAX_KEPT_DOCUMENT_BYTES;
        for index in 0..fits * 2 {
            let mut request = Request::new(format!("{{ {field}{index} }}"));
            documents.prepare(&mut request).expect("prepared");
        }
        assert!(documents.len() <= fits + 1, "{} kept", documents.len());
        let kept = documents.kept.lock().expect("lock");
        assert!(kept.text_bytes <= MAX_TEXT_BYTES);
    }

    #[test]
    fn an_unparsable_document_is_left_to_execution() {
        let documents = Documents::default();
        let mut broken = Request::new("{ oops");
        let prepared = documents.prepare(&mut broken).expect("left alone");
        assert_eq!(prepared.runs, None);
        assert_eq!(prepared.operation.kind, "unknown");
        assert!(documents.is_empty());
    }

    #[test]
    fn a_kept_document_is_still_checked_on_every_request() {
        let documents = Documents::default();
        let deep = format!("{{ {}a{} }}", "a { ".repeat(40), " }".repeat(40));
        for _ in 0..2 {
            let Err(DocumentError::Invalid(error)) = documents.prepare(&mut Request::new(&deep))
            else {
                panic!("a document over the depth limit must be refused");
            };
            assert!(error.message.contains("maxDepth"), "{}", error.message);
        }
        let text = "query Q($search: String) { threads(search: $search) { id } }";
        documents
            .prepare(&mut Request::new(text))
            .expect("clean variables pass");
        let with_nul = Request::new(text).variables(async_graphql::Variables::from_json(
            serde_json::json!({ "search": "a\u{0}b" }),
        ));
        let Err(DocumentError::Invalid(error)) = documents.prepare(&mut { with_nul }) else {
            panic!("a NUL in a variable must be refused, though the document is kept");
        };
        assert!(error.message.contains("NUL"), "{}", error.message);
    }

    #[test]
    fn the_operation_run_is_the_named_or_the_only_one() {
        let parse = |text| async_graphql::parser::parse_query(text).expect("parses");
        let single = parse("mutation { logOut }");
        assert_eq!(operation_type(&single, None), Some(OperationType::Mutation));
        let two = parse("query A { __typename } mutation B { logOut }");
        assert_eq!(operation_type(&two, Some("A")), Some(OperationType::Query));
        assert_eq!(
            operation_type(&two, Some("B")),
            Some(OperationType::Mutation)
        );
        assert_eq!(operation_type(&two, None), None);
        assert_eq!(operation_type(&two, Some("C")), None);
    }
}
