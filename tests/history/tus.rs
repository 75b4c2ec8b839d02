//! An actor's resumable uploads (tus 1.0.0): create, PATCH some or all of
//! what is left (after a HEAD, as clients resume), terminate.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::Method;

use crate::actors::{pick, Actor};
use crate::body::{sha256_hex, streamed};
use crate::client::{Ctx, Reply};
use crate::history::{DraftRef, Effect, Ident};
use crate::people::TusUpload;
use crate::plan::BodyMode;

impl Actor {
    pub async fn tus_terminate(&self, ctx: Ctx, upload: u32) {
        let slot = self.people.slot(self.slot());
        if let Some(up) = pick(&slot.uploads, upload) {
            let path = format!("/api/v1/drafts/{}/uploads/{}", up.draft.id, up.id);
            let request = self
                .api
                .request(Method::DELETE, &path, &slot.ident.token)
                .header("tus-resumable", "1.0.0");
            let effect = Effect::TusTerminate {
                draft: up.draft,
                upload: up.id,
            };
            self.api
                .call(ctx, effect, format!("DELETE {path}"), request)
                .await;
        }
    }

    pub async fn tus_create(
        &self,
        ctx: Ctx,
        who: &Ident,
        d: DraftRef,
        content: bytes::Bytes,
    ) -> Option<TusUpload> {
        let path = format!("/api/v1/drafts/{}/uploads", d.id);
        let metadata = format!(
            "filename {},filetype {}",
            STANDARD.encode("notes.txt"),
            STANDARD.encode("text/plain")
        );
        let request = self
            .api
            .request(Method::POST, &path, &who.token)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", content.len().to_string())
            .header("upload-metadata", metadata);
        let started = self.api.recorder.now();
        let reply = self.api.send(request).await;
        let id = reply
            .ok()
            .then(|| reply.header("location"))
            .flatten()
            .and_then(|l| l.rsplit('/').next().and_then(|id| id.parse().ok()));
        let label = format!("POST {path} (tus, {} bytes)", content.len());
        self.api.record(
            ctx,
            Effect::TusCreate {
                draft: d,
                upload: id,
            },
            label,
            started,
            &reply,
        );
        let upload = TusUpload {
            draft: d,
            id: id?,
            content,
        };
        self.people
            .with(self.slot(), |s| s.uploads.push(upload.clone()));
        Some(upload)
    }

    pub async fn tus_patch_some(&self, ctx: Ctx, pick_upload: u32, all: bool, mode: BodyMode) {
        let slot = self.people.slot(self.slot());
        let Some(up) = pick(&slot.uploads, pick_upload).cloned() else {
            return;
        };
        let path = format!("/api/v1/drafts/{}/uploads/{}", up.draft.id, up.id);
        let head = self
            .api
            .request(Method::HEAD, &path, &slot.ident.token)
            .header("tus-resumable", "1.0.0");
        let reply = self
            .api
            .call(
                ctx,
                Effect::Read { draft: up.draft },
                format!("HEAD {path}"),
                head,
            )
            .await;
        let Some(offset) = reply
            .header("upload-offset")
            .and_then(|o| o.parse::<usize>().ok())
        else {
            return;
        };
        let left = up.content.len().saturating_sub(offset);
        if left == 0 {
            return;
        }
        let len = if all { left } else { left.div_ceil(2) };
        let chunk = up.content.slice(offset..offset + len);
        self.tus_patch(
            ctx,
            &slot.ident,
            &up,
            offset,
            streamed(chunk, mode, None),
            len,
        )
        .await;
    }

    /// A PATCH of `len` bytes at `offset` with `body`.
    pub async fn tus_patch(
        &self,
        ctx: Ctx,
        who: &Ident,
        up: &TusUpload,
        offset: usize,
        body: reqwest::Body,
        len: usize,
    ) -> Reply {
        let path = format!("/api/v1/drafts/{}/uploads/{}", up.draft.id, up.id);
        let request = self
            .api
            .request(Method::PATCH, &path, &who.token)
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .header("content-length", len.to_string())
            .body(body);
        let started = self.api.recorder.now();
        let reply = self.api.send(request).await;
        let file = reply.header("draftd-file-id").and_then(|f| f.parse().ok());
        let finishes = offset + len == up.content.len();
        let effect = Effect::TusPatch {
            draft: up.draft,
            upload: up.id,
            sha256: sha256_hex(&up.content),
            finishes,
            file,
        };
        let label = format!(
            "PATCH {path} @{offset}+{len}{}",
            if finishes { " (last)" } else { "" }
        );
        self.api.record(ctx, effect, label, started, &reply);
        if let Some(file) = file {
            self.people
                .with(self.slot(), |s| s.files.push((up.draft, file)));
        }
        reply
    }
}
