//! Roles are stored as lower-case strings, so the database reads plainly.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TeamRole {
    Member,
    Admin,
    Owner,
}

impl TeamRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::Owner => "owner",
            TeamRole::Admin => "admin",
            TeamRole::Member => "member",
        }
    }
}

impl FromStr for TeamRole {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "owner" => Ok(TeamRole::Owner),
            "admin" => Ok(TeamRole::Admin),
            "member" => Ok(TeamRole::Member),
            other => Err(format!("unknown team role `{other}`")),
        }
    }
}

/// As its name (`"admin"`), as events carry it.
impl serde::Serialize for TeamRole {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for TeamRole {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TeamRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AppRole {
    Viewer,
    Developer,
    Admin,
    Owner,
}

impl AppRole {
    pub fn as_str(self) -> &'static str {
        match self {
            AppRole::Owner => "owner",
            AppRole::Admin => "admin",
            AppRole::Developer => "developer",
            AppRole::Viewer => "viewer",
        }
    }
}

impl FromStr for AppRole {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "owner" => Ok(AppRole::Owner),
            "admin" => Ok(AppRole::Admin),
            "developer" => Ok(AppRole::Developer),
            "viewer" => Ok(AppRole::Viewer),
            other => Err(format!("unknown app role `{other}`")),
        }
    }
}
