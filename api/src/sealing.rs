//! The server's [`Sealer`]: app secrets encrypted with `ORBIT_SECRETS_KEY`.

use orbit_auth::SealingKey;
use orbit_domain::sealed::unsealing_failed;
use orbit_domain::{DomainResult, SealContext, Sealer};

pub struct ServerSealer(SealingKey);

impl ServerSealer {
    pub fn new(key: SealingKey) -> Self {
        Self(key)
    }
}

impl Sealer for ServerSealer {
    fn seal(&self, plaintext: &str, context: &SealContext) -> String {
        self.0.seal(plaintext, context.as_str())
    }

    fn open(&self, sealed: &str, context: &SealContext) -> DomainResult<String> {
        self.0
            .open(sealed, context.as_str())
            .map_err(|error| unsealing_failed(context, error))
    }
}
