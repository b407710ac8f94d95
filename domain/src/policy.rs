//! Who may do what. Resolvers compute what the caller is to the object (their
//! access) and ask here; nothing else decides. A caller with no access at all
//! never reaches these functions: the object answers NOT_FOUND before, exactly
//! as one that does not exist.

use crate::roles::{AppRole, TeamRole};
use crate::{DomainError, DomainResult};

/// What the caller is to a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamAccess {
    /// The app's secret key: acts for the whole app.
    App,
    Member(TeamRole),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamAction {
    View,
    Rename,
    Delete,
    Invite {
        role: TeamRole,
    },
    /// Remove a member whose role is `target`; `is_self` when leaving.
    RemoveMember {
        target: TeamRole,
        is_self: bool,
    },
    /// Change a member from `from` to `to`.
    SetRole {
        from: TeamRole,
        to: TeamRole,
    },
    CreateThread,
}

pub fn authorize_team(access: TeamAccess, action: TeamAction) -> DomainResult<()> {
    let role = match access {
        TeamAccess::App => return Ok(()),
        TeamAccess::Member(role) => role,
    };
    let allowed = match action {
        TeamAction::View | TeamAction::CreateThread => true,
        TeamAction::Rename => role >= TeamRole::Admin,
        TeamAction::Delete => role == TeamRole::Owner,
        // Admins bring in members and admins; only owners make owners.
        TeamAction::Invite { role: invited } => {
            role == TeamRole::Owner || (role == TeamRole::Admin && invited != TeamRole::Owner)
        }
        TeamAction::RemoveMember { target, is_self } => {
            is_self
                || role == TeamRole::Owner
                || (role == TeamRole::Admin && target == TeamRole::Member)
        }
        TeamAction::SetRole { .. } => role == TeamRole::Owner,
    };
    if allowed {
        Ok(())
    } else {
        Err(DomainError::forbidden(format!(
            "a team {} may not do this",
            role.as_str()
        )))
    }
}

/// What the caller is to a thread; the strongest that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAccess {
    App,
    /// The user a personal thread belongs to.
    Owner,
    /// A member of the team that owns the thread.
    TeamMember {
        role: TeamRole,
        is_creator: bool,
    },
    /// Added to the thread by name.
    Participant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAction {
    View,
    Post,
    MarkRead,
    /// Rename, delete, add or remove participants.
    Manage,
}

pub fn authorize_thread(access: ThreadAccess, action: ThreadAction) -> DomainResult<()> {
    let allowed = match action {
        ThreadAction::View | ThreadAction::Post | ThreadAction::MarkRead => true,
        ThreadAction::Manage => can_manage_thread(access),
    };
    if allowed {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "only the thread's owner, its creator or a team admin may do this",
        ))
    }
}

fn can_manage_thread(access: ThreadAccess) -> bool {
    match access {
        ThreadAccess::App | ThreadAccess::Owner => true,
        ThreadAccess::TeamMember { role, is_creator } => is_creator || role >= TeamRole::Admin,
        ThreadAccess::Participant => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageAction {
    Edit,
    Delete,
}

/// `is_author` when the caller wrote the message.
pub fn authorize_message(
    thread_access: ThreadAccess,
    is_author: bool,
    action: MessageAction,
) -> DomainResult<()> {
    let allowed = match action {
        MessageAction::Edit => is_author || thread_access == ThreadAccess::App,
        MessageAction::Delete => is_author || can_manage_thread(thread_access),
    };
    if allowed {
        Ok(())
    } else {
        Err(DomainError::forbidden("only the author may do this"))
    }
}

/// Who may approve or refuse a tool call an agent's reply waits on: the
/// same people who may stop the reply (the thread's managers, the app, and
/// the person whose message asked for it).
pub fn authorize_decide_tool_call(
    thread_access: ThreadAccess,
    is_requester: bool,
) -> DomainResult<()> {
    if is_requester || can_manage_thread(thread_access) {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "only the thread's managers and the person who asked may approve or refuse the reply's tool calls",
        ))
    }
}

/// Who may stop an agent's reply: whoever manages the thread (the app
/// included), and the person whose message asked for it.
pub fn authorize_cancel_reply(thread_access: ThreadAccess, is_requester: bool) -> DomainResult<()> {
    if is_requester || can_manage_thread(thread_access) {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "only the thread's managers and the person who asked may cancel a reply",
        ))
    }
}

/// What the caller is to an app whose configuration it manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppAccess {
    /// The app's secret key: the app's own server code.
    SecretKey,
    /// A developer (console user) with a role on the app.
    Member(AppRole),
}

/// What can be done to an app's configuration (the control plane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppAction {
    /// Read the configuration: the key list (never secrets), settings,
    /// members, login providers, agents, model providers, routines and their
    /// runs, webhooks and their deliveries.
    View,
    /// Create, change and delete agents, model providers, routines and
    /// webhooks; run routines; redeliver webhooks.
    Build,
    /// Rename the app; change its settings and login providers.
    Configure,
    /// Create and revoke API keys; rotate token signing keys.
    ManageKeys,
    /// Add or remove a member whose role is `role`, or change a member's
    /// role from or to `role` (checked for both).
    ManageMember { role: AppRole },
    /// Delete the app and everything in it.
    Delete,
}

/// Developers: viewers read, developers build, admins also hold the keys,
/// the settings and the members below owner; owners may do everything. The
/// secret key runs the app but cannot mint keys or change who runs it, so a
/// leaked key can be revoked without it having made another.
pub fn authorize_app(access: AppAccess, action: AppAction) -> DomainResult<()> {
    let allowed = match access {
        AppAccess::SecretKey => matches!(
            action,
            AppAction::View | AppAction::Build | AppAction::Configure
        ),
        AppAccess::Member(role) => match action {
            AppAction::View => true,
            AppAction::Build => role >= AppRole::Developer,
            AppAction::Configure | AppAction::ManageKeys => role >= AppRole::Admin,
            AppAction::ManageMember { role: target } => {
                role == AppRole::Owner || (role == AppRole::Admin && target != AppRole::Owner)
            }
            AppAction::Delete => role == AppRole::Owner,
        },
    };
    if allowed {
        return Ok(());
    }
    Err(match access {
        AppAccess::SecretKey => {
            DomainError::forbidden("this needs a developer of the app, not its secret key")
        }
        AppAccess::Member(role) => {
            DomainError::forbidden(format!("an app {} may not do this", role.as_str()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_matrix() {
        use AppRole::*;
        let member = AppAccess::Member;
        assert!(authorize_app(member(Viewer), AppAction::View).is_ok());
        assert!(authorize_app(member(Viewer), AppAction::Build).is_err());
        assert!(authorize_app(member(Developer), AppAction::Build).is_ok());
        assert!(authorize_app(member(Developer), AppAction::ManageKeys).is_err());
        assert!(authorize_app(member(Developer), AppAction::Configure).is_err());
        assert!(authorize_app(member(Admin), AppAction::ManageKeys).is_ok());
        assert!(authorize_app(member(Admin), AppAction::Configure).is_ok());
        assert!(authorize_app(member(Admin), AppAction::ManageMember { role: Admin }).is_ok());
        assert!(authorize_app(member(Admin), AppAction::ManageMember { role: Owner }).is_err());
        assert!(authorize_app(member(Admin), AppAction::Delete).is_err());
        assert!(authorize_app(member(Owner), AppAction::ManageMember { role: Owner }).is_ok());
        assert!(authorize_app(member(Owner), AppAction::Delete).is_ok());
        let secret = AppAccess::SecretKey;
        assert!(authorize_app(secret, AppAction::Build).is_ok());
        assert!(authorize_app(secret, AppAction::Configure).is_ok());
        assert!(authorize_app(secret, AppAction::ManageKeys).is_err());
        assert!(authorize_app(secret, AppAction::ManageMember { role: Viewer }).is_err());
        assert!(authorize_app(secret, AppAction::Delete).is_err());
    }

    #[test]
    fn team_matrix() {
        use TeamRole::*;
        let member = TeamAccess::Member(Member);
        let admin = TeamAccess::Member(Admin);
        let owner = TeamAccess::Member(Owner);
        assert!(authorize_team(member, TeamAction::Rename).is_err());
        assert!(authorize_team(admin, TeamAction::Rename).is_ok());
        assert!(authorize_team(admin, TeamAction::Delete).is_err());
        assert!(authorize_team(owner, TeamAction::Delete).is_ok());
        assert!(authorize_team(admin, TeamAction::Invite { role: Owner }).is_err());
        assert!(authorize_team(admin, TeamAction::Invite { role: Admin }).is_ok());
        assert!(authorize_team(member, TeamAction::Invite { role: Member }).is_err());
        let remove_admin = TeamAction::RemoveMember {
            target: Admin,
            is_self: false,
        };
        assert!(authorize_team(admin, remove_admin).is_err());
        assert!(authorize_team(owner, remove_admin).is_ok());
        let leave = TeamAction::RemoveMember {
            target: Member,
            is_self: true,
        };
        assert!(authorize_team(member, leave).is_ok());
        let promote = TeamAction::SetRole {
            from: Member,
            to: Admin,
        };
        assert!(authorize_team(admin, promote).is_err());
        assert!(authorize_team(TeamAccess::App, promote).is_ok());
    }

    #[test]
    fn thread_and_message_matrix() {
        let member = ThreadAccess::TeamMember {
            role: TeamRole::Member,
            is_creator: false,
        };
        let creator = ThreadAccess::TeamMember {
            role: TeamRole::Member,
            is_creator: true,
        };
        assert!(authorize_thread(member, ThreadAction::Post).is_ok());
        assert!(authorize_thread(member, ThreadAction::Manage).is_err());
        assert!(authorize_thread(creator, ThreadAction::Manage).is_ok());
        assert!(authorize_thread(ThreadAccess::Participant, ThreadAction::Manage).is_err());
        assert!(authorize_message(member, false, MessageAction::Edit).is_err());
        assert!(authorize_message(member, true, MessageAction::Edit).is_ok());
        assert!(authorize_message(creator, false, MessageAction::Delete).is_ok());
        assert!(authorize_message(ThreadAccess::Owner, false, MessageAction::Edit).is_err());
    }
}
