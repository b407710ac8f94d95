//! IDs are UUIDv7 in the database and prefixed strings on the wire
//! (`thr_0193…`). Each kind has its own type, so a thread id can never be
//! passed where a team id is wanted, and a wrong prefix is a clear input error.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::DomainError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an ID starting with `{expected}_`")]
pub struct IdParseError {
    pub expected: &'static str,
}

macro_rules! public_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new time-ordered ID.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn uuid(self) -> Uuid {
                self.0
            }

            /// Parses the wire form; `field` names the input at fault on error.
            pub fn parse_field(value: &str, field: &str) -> Result<Self, DomainError> {
                value.parse().map_err(|error: IdParseError| {
                    DomainError::bad_input(field, error.to_string())
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", $prefix, self.0.simple())
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                let error = IdParseError { expected: $prefix };
                let rest = value
                    .strip_prefix($prefix)
                    .and_then(|rest| rest.strip_prefix('_'))
                    .ok_or(error.clone())?;
                // Only the canonical simple form, so one ID has one spelling.
                if rest.len() != 32 || !rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(error);
                }
                Uuid::parse_str(rest).map(Self).map_err(|_| error)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        /// The wire form (`thr_…`), as in event payloads.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

public_id!(AppId, "app");
public_id!(UserId, "usr");
public_id!(TeamId, "team");
public_id!(ThreadId, "thr");
public_id!(MessageId, "msg");
public_id!(ApiKeyId, "key");
public_id!(EventId, "evt");
public_id!(SessionId, "ses");
public_id!(InvitationId, "inv");
public_id!(AgentId, "agt");
public_id!(ModelProviderId, "mpr");
public_id!(RoutineId, "rtn");
public_id!(RoutineRunId, "run");
public_id!(WebhookId, "whk");
public_id!(WebhookDeliveryId, "dlv");
public_id!(
    /// A tool an app's agents may call.
    ToolId,
    "tol"
);
public_id!(
    /// An MCP server an app registered; its tools are tools of the app.
    McpServerId,
    "mcp"
);
public_id!(
    /// One reply an agent owes a thread (`agent_replies`).
    AgentReplyId,
    "rpl"
);
public_id!(
    /// An outside OAuth provider an app's users log in with.
    IdentityProviderId,
    "idp"
);

/// Which kind of object a public ID names, read from its prefix (for `node(id:)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnyId {
    App(AppId),
    User(UserId),
    Team(TeamId),
    Thread(ThreadId),
    Message(MessageId),
}

impl FromStr for AnyId {
    type Err = IdParseError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let prefix = value.split('_').next().unwrap_or_default();
        match prefix {
            AppId::PREFIX => value.parse().map(AnyId::App),
            UserId::PREFIX => value.parse().map(AnyId::User),
            TeamId::PREFIX => value.parse().map(AnyId::Team),
            ThreadId::PREFIX => value.parse().map(AnyId::Thread),
            MessageId::PREFIX => value.parse().map(AnyId::Message),
            _ => Err(IdParseError {
                expected: "app|usr|team|thr|msg",
            }),
        }
    }
}

/// The app a piece of work is confined to. Every persistence function takes
/// one, so no query can run without its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AppScope(AppId);

impl AppScope {
    pub fn new(app_id: AppId) -> Self {
        Self(app_id)
    }

    pub fn app_id(self) -> AppId {
        self.0
    }

    pub fn uuid(self) -> Uuid {
        self.0.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_prefixes() {
        let id = ThreadId::generate();
        let wire = id.to_string();
        assert!(wire.starts_with("thr_"));
        assert_eq!(wire.parse::<ThreadId>().unwrap(), id);
        assert!(wire.replace("thr_", "team_").parse::<ThreadId>().is_err());
        assert!(wire.to_uppercase().parse::<ThreadId>().is_err());
        assert!("thr_".parse::<ThreadId>().is_err());
        assert!(matches!(wire.parse::<AnyId>().unwrap(), AnyId::Thread(t) if t == id));
    }

    proptest::proptest! {
        /// Whatever a client sends, parsing answers (never panics), and an
        /// ID that parses has exactly one spelling.
        #[test]
        fn any_text_parses_or_is_refused_and_one_id_has_one_spelling(text in "\\PC{0,80}") {
            if let Ok(id) = text.parse::<ThreadId>() {
                proptest::prop_assert_eq!(id.to_string(), text.clone());
            }
            let _ = text.parse::<AnyId>();
        }

        #[test]
        fn near_misses_of_an_id_are_refused(
            bytes in proptest::array::uniform16(proptest::prelude::any::<u8>()),
            cut in 0_usize..37,
            upper in proptest::prelude::any::<bool>(),
        ) {
            let id = ThreadId(Uuid::from_bytes(bytes));
            let wire = id.to_string();
            proptest::prop_assert_eq!(wire.parse::<ThreadId>().unwrap(), id);
            let mut changed = wire.clone();
            changed.truncate(cut);
            if upper {
                changed = wire.to_uppercase();
            }
            if changed != wire {
                proptest::prop_assert!(changed.parse::<ThreadId>().is_err());
            }
            proptest::prop_assert!(wire.replacen("thr_", "msg_", 1).parse::<ThreadId>().is_err());
        }
    }
}
