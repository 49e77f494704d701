//! The project the server stands for: its token and the credentials `/import` accepts.

use std::fmt;

use alias_core::Secret;
use alias_core::server::{Answer, BasicAuth};

/// The project token a server accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "test-token";
/// The project secret a server accepts unless told otherwise (Basic user, empty password).
pub const DEFAULT_PROJECT_SECRET: &str = "test-project-secret";
/// The service account user a server accepts unless told otherwise.
pub const DEFAULT_SERVICE_ACCOUNT_USER: &str = "test-service-account";
/// The secret of [`DEFAULT_SERVICE_ACCOUNT_USER`].
pub const DEFAULT_SERVICE_ACCOUNT_SECRET: &str = "test-service-account-secret";
/// The project id that [`DEFAULT_SERVICE_ACCOUNT_USER`] acts on (`project_id` query).
pub const DEFAULT_PROJECT_ID: &str = "1234";

/// Mixpanel's answer to a service account call without `project_id` (`docs/mixpanel-facts.md` §4).
const MISSING_PROJECT_ID: &str = "Unauthorized, invalid project secret";

/// A service account the server accepts on `/import`.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    user: String,
    secret: Secret,
    project_id: String,
}

impl ServiceAccount {
    /// A service account `user:secret` allowed to import into `project_id`.
    pub fn new(user: impl Into<String>, secret: Secret, project_id: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            secret,
            project_id: project_id.into(),
        }
    }

    /// The account's user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The project the account acts on.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }
}

impl Default for ServiceAccount {
    /// [`DEFAULT_SERVICE_ACCOUNT_USER`] with [`DEFAULT_SERVICE_ACCOUNT_SECRET`] on
    /// [`DEFAULT_PROJECT_ID`].
    fn default() -> Self {
        Self::new(
            DEFAULT_SERVICE_ACCOUNT_USER,
            default_secret(DEFAULT_SERVICE_ACCOUNT_SECRET),
            DEFAULT_PROJECT_ID,
        )
    }
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("user", &self.user)
            .field("secret", &self.secret)
            .field("project_id", &self.project_id)
            .finish()
    }
}

fn default_secret(value: &'static str) -> Secret {
    Secret::new(value).unwrap_or_else(|_| unreachable!("the default secrets are not blank"))
}

/// The project: its token, its secret and its service accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Project {
    pub(crate) token: String,
    pub(crate) secret: Secret,
    pub(crate) service_accounts: Vec<ServiceAccount>,
}

impl Default for Project {
    fn default() -> Self {
        Self {
            token: DEFAULT_TOKEN.to_owned(),
            secret: default_secret(DEFAULT_PROJECT_SECRET),
            service_accounts: vec![ServiceAccount::default()],
        }
    }
}

impl Project {
    /// Checks the Basic credentials of an `/import` call (`docs/mixpanel-facts.md` §4): the project token or
    /// the project secret as the user with an empty password, or a service account's
    /// `user:secret` with the `project_id` it acts on.
    pub(crate) fn authenticate(
        &self,
        auth: Option<&BasicAuth>,
        project_id: Option<&str>,
    ) -> Result<(), Answer> {
        let Some(auth) = auth else {
            return Err(Answer::invalid_credentials());
        };
        match auth.password() {
            None if auth.user() == self.token || auth.user() == self.secret.expose() => Ok(()),
            None => Err(Answer::invalid_credentials()),
            Some(password) => {
                let account = self
                    .service_accounts
                    .iter()
                    .find(|a| a.user == auth.user() && a.secret.expose() == password.expose())
                    .ok_or_else(Answer::invalid_credentials)?;
                match project_id {
                    None => Err(Answer::Unauthorized {
                        error: MISSING_PROJECT_ID.to_owned(),
                    }),
                    Some(id) if id == account.project_id => Ok(()),
                    Some(_) => Err(Answer::invalid_credentials()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use http::HeaderValue;

    use super::*;

    fn basic(credential: &str) -> BasicAuth {
        let value = format!("Basic {}", STANDARD.encode(credential));
        BasicAuth::from_header(&HeaderValue::try_from(value).unwrap()).unwrap()
    }

    #[test]
    fn every_documented_credential_kind() {
        let project = Project::default();
        let ok = |credential: &str, project_id| {
            project.authenticate(Some(&basic(credential)), project_id)
        };
        assert_eq!(ok("test-token:", None), Ok(()));
        assert_eq!(ok("test-project-secret:", None), Ok(()));
        assert_eq!(
            ok(
                "test-service-account:test-service-account-secret",
                Some("1234")
            ),
            Ok(())
        );
        assert_eq!(ok("wrong-token:", None), Err(Answer::invalid_credentials()));
        assert_eq!(
            ok("test-service-account:wrong", Some("1234")),
            Err(Answer::invalid_credentials())
        );
        assert_eq!(
            ok(
                "test-service-account:test-service-account-secret",
                Some("9")
            ),
            Err(Answer::invalid_credentials())
        );
        assert_eq!(
            ok("test-service-account:test-service-account-secret", None),
            Err(Answer::Unauthorized {
                error: "Unauthorized, invalid project secret".into()
            })
        );
        assert_eq!(
            project.authenticate(None, None),
            Err(Answer::invalid_credentials())
        );
    }

    #[test]
    fn secrets_never_print() {
        let shown = format!("{:?}", Project::default());
        assert!(!shown.contains("test-service-account-secret"), "{shown}");
        assert!(!shown.contains("test-project-secret"), "{shown}");
    }
}
