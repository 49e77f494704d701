//! How `/import` requests authenticate.

use std::fmt;

use crate::error::{Field, Problem, ValidationError};
use crate::wire::secret::Secret;

/// How `/import` requests authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A service account (HTTP Basic `user:secret`) and the project it acts on.
    ServiceAccount {
        /// The service account's user name.
        user: String,
        /// The service account's secret.
        secret: Secret,
        /// The numeric project id, sent as the `project_id` query parameter.
        project_id: String,
    },
    /// The project token as the Basic user name, with an empty password.
    ProjectToken,
    /// The project's API secret as the Basic user name. Deprecated by Mixpanel (retired
    /// 2027-03-03); prefer a service account.
    ProjectSecret(Secret),
}

impl Credentials {
    /// A service account acting on `project_id`.
    pub fn service_account(
        user: impl Into<String>,
        secret: Secret,
        project_id: impl Into<String>,
    ) -> Result<Self, ValidationError> {
        let user = user.into();
        let project_id = project_id.into();
        if user.trim().is_empty() {
            return Err(ValidationError::new(
                Field::ServiceAccountUser,
                Problem::Empty,
            ));
        }
        if project_id.trim().is_empty() {
            return Err(ValidationError::new(Field::ProjectId, Problem::Empty));
        }
        if let Some(found) = project_id.chars().find(|c| !c.is_ascii_digit()) {
            return Err(ValidationError::new(
                Field::ProjectId,
                Problem::BadCharacter {
                    found,
                    allowed: "digits",
                },
            ));
        }
        Ok(Self::ServiceAccount {
            user,
            secret,
            project_id,
        })
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServiceAccount {
                user,
                secret,
                project_id,
            } => f
                .debug_struct("ServiceAccount")
                .field("user", user)
                .field("secret", secret)
                .field("project_id", project_id)
                .finish(),
            Self::ProjectToken => f.write_str("ProjectToken"),
            Self::ProjectSecret(secret) => f.debug_tuple("ProjectSecret").field(secret).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_secrets() {
        let creds = Credentials::service_account(
            "sa.user",
            Secret::new("hunter2-secret").unwrap(),
            "12345",
        )
        .unwrap();
        let shown = format!("{creds:?}");
        assert!(
            shown.contains("sa.user") && !shown.contains("hunter2"),
            "{shown}"
        );
        let shown = format!(
            "{:?}",
            Credentials::ProjectSecret(Secret::new("s3cr3t").unwrap())
        );
        assert!(!shown.contains("s3cr3t"));
    }

    #[test]
    fn service_account_project_id_must_be_numeric() {
        let err = Credentials::service_account("u", Secret::new("s").unwrap(), "12a").unwrap_err();
        assert_eq!(err.field, Field::ProjectId);
    }
}
