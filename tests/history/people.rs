//! Who acts: user slots in two organizations, each with a current identity
//! and what its actors have made. An erase retires identities: the slot goes
//! on as a new user (and, for an organization, in a new organization), while
//! requests still in flight with the old token race the erase.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::json;
use uuid::Uuid;

use crate::client::mint;
use crate::history::{DraftRef, Ident};
use crate::plan::{org_of, ORGS, USERS_PER_ORG};

/// A resumable upload an actor created.
#[derive(Clone)]
pub struct TusUpload {
    pub draft: DraftRef,
    pub id: Uuid,
    pub content: Bytes,
}

#[derive(Clone)]
pub struct Slot {
    pub ident: Ident,
    pub drafts: Vec<DraftRef>,
    pub uploads: Vec<TusUpload>,
    pub files: Vec<(DraftRef, Uuid)>,
}

impl Slot {
    fn new(org: Uuid) -> Slot {
        let user = Uuid::new_v4();
        Slot {
            ident: Ident {
                user,
                org,
                token: mint(json!({"sub": user, "org_id": org})),
            },
            drafts: Vec::new(),
            uploads: Vec::new(),
            files: Vec::new(),
        }
    }

    /// One of the slot's recent drafts: most ops aim at what is being worked
    /// on now; old ones (discarded, erased) still get a later request now and
    /// then.
    pub fn draft(&self, pick: u32) -> Option<DraftRef> {
        let n = self.drafts.len();
        let window = if pick.is_multiple_of(8) { n } else { n.min(4) };
        (window > 0).then(|| self.drafts[n - 1 - (pick as usize % window)])
    }
}

#[derive(Clone)]
pub struct People(Arc<Mutex<Vec<Slot>>>);

impl People {
    pub fn new() -> People {
        let orgs: Vec<Uuid> = (0..ORGS).map(|_| Uuid::new_v4()).collect();
        let slots = (0..ORGS * USERS_PER_ORG)
            .map(|s| Slot::new(orgs[org_of(s)]))
            .collect();
        People(Arc::new(Mutex::new(slots)))
    }

    pub fn slot(&self, slot: usize) -> Slot {
        self.0.lock().expect("people lock")[slot].clone()
    }

    pub fn with<R>(&self, slot: usize, change: impl FnOnce(&mut Slot) -> R) -> R {
        change(&mut self.0.lock().expect("people lock")[slot])
    }

    /// The current organization id of an organization slot.
    pub fn org(&self, org: usize) -> Uuid {
        self.slot(org * USERS_PER_ORG).ident.org
    }

    /// Every identity ever used, current ones included.
    pub fn current(&self) -> Vec<Ident> {
        let slots = self.0.lock().expect("people lock");
        slots.iter().map(|s| s.ident.clone()).collect()
    }

    /// The slot's user was erased: it goes on as a new user of its org.
    pub fn retire_user(&self, slot: usize, user: Uuid) {
        let mut slots = self.0.lock().expect("people lock");
        if slots[slot].ident.user == user {
            let org = slots[slot].ident.org;
            slots[slot] = Slot::new(org);
        }
    }

    /// The organization was erased: its slots go on in a new organization.
    pub fn retire_org(&self, org: Uuid) {
        let mut slots = self.0.lock().expect("people lock");
        let fresh = Uuid::new_v4();
        for slot in slots.iter_mut().filter(|s| s.ident.org == org) {
            *slot = Slot::new(fresh);
        }
    }
}
