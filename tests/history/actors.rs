//! A user's actor: runs its plan's operations one after another against
//! whichever replica is up, recording each request.

use std::sync::Arc;

use reqwest::Method;
use serde_json::json;

use crate::body::{file_content, multipart_bytes, multipart_type, sha256_hex, streamed};
use crate::client::{Api, Ctx, Reply};
use crate::history::{DraftRef, Effect, Ident};
use crate::people::People;
use crate::plan::{slot_of, Op, FIELDS};
use crate::storage::Storage;

pub struct Actor {
    pub api: Api,
    pub people: People,
    pub actor: usize,
    pub seed: u64,
    pub storage: Arc<Storage>,
}

impl Actor {
    pub fn slot(&self) -> usize {
        slot_of(self.actor)
    }

    pub fn ident(&self) -> Ident {
        self.people.slot(self.slot()).ident
    }

    fn draft(&self, pick: u32) -> Option<(Ident, DraftRef)> {
        let slot = self.people.slot(self.slot());
        slot.draft(pick).map(|d| (slot.ident, d))
    }

    /// The content of the upload a step makes: the seed and step fix it.
    pub fn content(&self, step: usize, size: usize) -> bytes::Bytes {
        file_content(
            self.seed ^ ((step as u64 + 1) << 20) ^ self.actor as u64,
            size,
        )
    }

    pub async fn run(&self, step: usize, op: &Op) {
        let ctx = Ctx {
            actor: self.actor,
            step,
        };
        match *op {
            Op::Create => {
                self.create(ctx).await;
            }
            Op::Autosave {
                draft,
                field,
                if_match,
            } => {
                if let Some((who, d)) = self.draft(draft) {
                    self.autosave(ctx, &who, d, FIELDS[field], if_match).await;
                }
            }
            Op::Upload { draft, size, mode } => {
                if let Some((who, d)) = self.draft(draft) {
                    let content = self.content(step, size);
                    let body = streamed(multipart_bytes("notes.txt", &content), mode, None);
                    self.upload(ctx, &who, d, &content, body).await;
                }
            }
            Op::TusCreate { draft, size } => {
                if let Some((who, d)) = self.draft(draft) {
                    let content = self.content(step, size);
                    self.tus_create(ctx, &who, d, content).await;
                }
            }
            Op::TusPatch { upload, all, mode } => self.tus_patch_some(ctx, upload, all, mode).await,
            Op::TusTerminate { upload } => self.tus_terminate(ctx, upload).await,
            Op::Materialize { draft } => self.simple(ctx, draft, Simple::Materialize).await,
            Op::Submit { draft } => self.simple(ctx, draft, Simple::Submit).await,
            Op::Discard { draft } => self.simple(ctx, draft, Simple::Discard).await,
            Op::Trash { draft } => self.simple(ctx, draft, Simple::Trash).await,
            Op::Restore { draft } => self.simple(ctx, draft, Simple::Restore).await,
            Op::DeleteForever { draft } => self.simple(ctx, draft, Simple::DeleteForever).await,
            Op::Read { draft } => self.simple(ctx, draft, Simple::Read).await,
            Op::DeleteFile { file } => {
                let slot = self.people.slot(self.slot());
                if let Some(&(d, id)) = pick(&slot.files, file) {
                    let path = format!("/api/v1/drafts/{}/files/{id}", d.id);
                    let request = self.api.request(Method::DELETE, &path, &slot.ident.token);
                    let effect = Effect::DeleteFile { draft: d, file: id };
                    self.api
                        .call(ctx, effect, format!("DELETE {path}"), request)
                        .await;
                }
            }
            Op::Race {
                writer,
                deleter,
                materialize_first,
                size,
            } => {
                crate::races::race(self, ctx, writer, deleter, materialize_first, size).await;
            }
            _ => {}
        }
    }

    pub async fn create(&self, ctx: Ctx) -> Option<DraftRef> {
        let who = self.ident();
        let topic = format!("topic-{}-{}", ctx.actor, ctx.step);
        let request = self
            .api
            .request(Method::POST, "/api/v1/drafts", &who.token)
            .json(&json!({"formData": {"topic": topic}}));
        let started = self.api.recorder.now();
        let reply = self.api.send(request).await;
        let id = reply.ok().then(|| reply.uuid("id")).flatten();
        let effect = Effect::Create {
            user: who.user,
            org: who.org,
            topic,
            draft: id,
        };
        self.api
            .record(ctx, effect, "POST /api/v1/drafts".into(), started, &reply);
        let draft = DraftRef {
            id: id?,
            user: who.user,
            org: who.org,
        };
        self.people.with(self.slot(), |s| {
            if s.ident.user == who.user {
                s.drafts.push(draft);
            }
        });
        Some(draft)
    }

    async fn autosave(
        &self,
        ctx: Ctx,
        who: &Ident,
        d: DraftRef,
        field: &'static str,
        if_match: bool,
    ) {
        let path = format!("/api/v1/drafts/{}", d.id);
        let value = format!("{field}-{}-{}", ctx.actor, ctx.step);
        let mut request = self
            .api
            .request(Method::PATCH, &path, &who.token)
            .header("content-type", "application/merge-patch+json")
            .body(json!({"formData": {field: value}}).to_string());
        if if_match {
            let read = self.simple_call(ctx, who, d, Simple::Read).await;
            if let Some(tag) = read.header("etag") {
                request = request.header("if-match", tag);
            }
        }
        let effect = Effect::Save {
            draft: d,
            field,
            value: value.clone(),
        };
        let label = format!(
            "PATCH {path} {field}={value}{}",
            if if_match { " If-Match" } else { "" }
        );
        self.api.call(ctx, effect, label, request).await;
    }

    /// A multipart upload of `content` with `body` (built from it).
    pub async fn upload(
        &self,
        ctx: Ctx,
        who: &Ident,
        d: DraftRef,
        content: &[u8],
        body: reqwest::Body,
    ) -> Reply {
        let path = format!("/api/v1/drafts/{}/files", d.id);
        let request = self
            .api
            .request(Method::POST, &path, &who.token)
            .header("content-type", multipart_type())
            .body(body);
        let started = self.api.recorder.now();
        let reply = self.api.send(request).await;
        let file = reply.ok().then(|| reply.uuid("id")).flatten();
        let sha256 = sha256_hex(content);
        let label = format!(
            "POST {path} ({} bytes, sha256 {})",
            content.len(),
            &sha256[..12]
        );
        self.api.record(
            ctx,
            Effect::Upload {
                draft: d,
                sha256,
                file,
            },
            label,
            started,
            &reply,
        );
        if let Some(file) = file {
            self.people.with(self.slot(), |s| s.files.push((d, file)));
        }
        reply
    }

    async fn simple(&self, ctx: Ctx, pick: u32, what: Simple) {
        if let Some((who, d)) = self.draft(pick) {
            self.simple_call(ctx, &who, d, what).await;
        }
    }

    /// One bodiless request about a draft or its course.
    pub async fn simple_call(&self, ctx: Ctx, who: &Ident, d: DraftRef, what: Simple) -> Reply {
        let (method, path, effect) = match what {
            Simple::Materialize => (
                Method::POST,
                format!("/api/v1/drafts/{}/materialize", d.id),
                Effect::Materialize { draft: d },
            ),
            Simple::Submit => (
                Method::POST,
                format!("/api/v1/drafts/{}/submit", d.id),
                Effect::Submit { draft: d },
            ),
            Simple::Discard => (
                Method::DELETE,
                format!("/api/v1/drafts/{}", d.id),
                Effect::Discard { draft: d },
            ),
            Simple::Trash => (
                Method::DELETE,
                format!("/api/v1/courses/{}", d.course()),
                Effect::Trash { draft: d },
            ),
            Simple::Restore => (
                Method::POST,
                format!("/api/v1/courses/{}/restore", d.course()),
                Effect::Restore { draft: d },
            ),
            Simple::DeleteForever => (
                Method::DELETE,
                format!("/api/v1/courses/{}?permanent=true", d.course()),
                Effect::DeleteForever { draft: d },
            ),
            Simple::Read => (
                Method::GET,
                format!("/api/v1/drafts/{}", d.id),
                Effect::Read { draft: d },
            ),
        };
        let request = self.api.request(method.clone(), &path, &who.token);
        self.api
            .call(ctx, effect, format!("{method} {path}"), request)
            .await
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Simple {
    Materialize,
    Submit,
    Discard,
    Trash,
    Restore,
    DeleteForever,
    Read,
}

pub fn pick<T>(items: &[T], pick: u32) -> Option<&T> {
    let n = items.len();
    let window = n.min(4);
    (window > 0).then(|| &items[n - 1 - (pick as usize % window)])
}
