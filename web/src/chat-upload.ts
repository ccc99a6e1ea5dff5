// chat-upload.ts — attachment upload with progress (IN-PHISH, RG-IM-a):
// POST /conversations/{id}/uploads, PUT /uploads/{id}?offset=N chunk by
// chunk (at most chunk_max each, retried once on a network error), then
// POST /uploads/{id}/finish, during which the server scans the file for
// viruses.  The tray shows each file's progress, "Scanning for viruses…",
// and the outcomes people must not miss: infected (with the signature; the
// file was destroyed) and scanner unavailable (not sent; try again).
import { ApiError, api, putUploadChunk } from './api';
import type { ChatStore } from './chat-store';
import { fmtSize } from './chat-messages';
import { h, replace } from './dom';
import { newCid } from './events';
import { t } from './i18n';
import { button, errorText, icon } from './ui';

export const MAX_UPLOAD = 25 * 1024 * 1024;
const DEFAULT_CHUNK = 256 * 1024;

type Phase = 'uploading' | 'scanning' | 'done' | 'infected' | 'scanner' | 'error' | 'cancelled';

/** The upload tray of a composer; add() starts an upload into it. */
export function uploadTray(store: ChatStore, conv: number): { el: HTMLElement; add(file: File, caption?: string): void } {
	const el = h('ul', { class: 'upload-tray', testid: 'upload-tray', attrs: { 'aria-live': 'polite', 'aria-label': t('chat.uploads') } });

	function add(file: File, caption?: string): void {
		const ctl = new AbortController();
		let phase: Phase = 'uploading';
		let sent = 0;
		let uploadId = '';
		const cid = newCid();
		const bar = h('progress', { class: 'upload-bar', attrs: { max: file.size || 1, value: 0, 'aria-label': t('chat.uploadProgress', { name: file.name }) } });
		const status = h('span', { class: 'upload-status', testid: 'upload-status' });
		const actions = h('span', { class: 'upload-actions' });
		const item = h(
			'li',
			{ class: 'upload', testid: 'upload-item' },
			h('span', { class: 'upload-icon' }, icon('file')),
			h('span', { class: 'upload-main' }, h('span', { class: 'upload-name' }, file.name), bar, status),
			actions,
		);
		el.appendChild(item);

		const remove = () => item.remove();
		const draw = (detail?: string) => {
			item.dataset.phase = phase;
			item.className = `upload upload-${phase}`;
			bar.value = phase === 'uploading' ? sent : file.size || 1;
			bar.hidden = phase !== 'uploading' && phase !== 'scanning';
			if (phase === 'scanning') bar.removeAttribute('value'); /* indeterminate */
			let text = '';
			switch (phase) {
				case 'uploading':
					text = t('chat.uploading', { sent: fmtSize(sent), size: fmtSize(file.size) });
					break;
				case 'scanning':
					text = t('chat.scanning');
					break;
				case 'done':
					text = t('chat.uploaded');
					break;
				case 'infected':
					text = t('chat.infected', { signature: detail || t('common.unknown') });
					break;
				case 'scanner':
					text = t('chat.scannerUnavailable');
					break;
				case 'cancelled':
					text = t('chat.uploadCancelled');
					break;
				default:
					text = detail ?? t('err.unexpected');
			}
			replace(status, phase === 'infected' || phase === 'scanner' || phase === 'error' ? icon('alert', 'icon icon-sm') : null, text);
			status.setAttribute('role', phase === 'infected' || phase === 'scanner' || phase === 'error' ? 'alert' : 'status');
			const btns: HTMLElement[] = [];
			if (phase === 'uploading') {
				btns.push(button(t('common.cancel'), { small: true, kind: 'ghost', testid: 'upload-cancel', onClick: () => ctl.abort() }));
			}
			if (phase === 'scanner' && uploadId) {
				btns.push(button(t('chat.tryAgain'), { small: true, testid: 'upload-retry', onClick: () => void finish() }));
			}
			if (phase === 'infected' || phase === 'scanner' || phase === 'error' || phase === 'cancelled') {
				btns.push(
					h(
						'button',
						{
							type: 'button',
							class: 'btn btn-ghost btn-icon',
							testid: 'upload-dismiss',
							attrs: { 'aria-label': t('common.close') },
							on: { click: remove },
						},
						icon('x'),
					),
				);
			}
			replace(actions, btns);
		};

		const fail = (e: unknown) => {
			if (ctl.signal.aborted) {
				phase = 'cancelled';
				draw();
				window.setTimeout(remove, 4000);
				return;
			}
			if (e instanceof ApiError && e.code === 'infected') {
				phase = 'infected';
				const body = e.body as { signature?: string; error?: { signature?: string } } | null;
				draw(body?.error?.signature ?? body?.signature ?? '');
				return;
			}
			if (e instanceof ApiError && (e.code === 'scanner_unavailable' || (e.status === 503 && phase === 'scanning'))) {
				phase = 'scanner';
				draw();
				return;
			}
			phase = 'error';
			draw(errorText(e));
		};

		async function finish(): Promise<void> {
			phase = 'scanning';
			draw();
			try {
				const body: { cid: string; body?: string } = { cid };
				if (caption) body.body = caption;
				const r = await api('post', '/api/v1/uploads/{upload_id}/finish', { path: { upload_id: uploadId }, body });
				store.applyMessage(r.message);
				store.markRead(conv, r.message.id);
				phase = 'done';
				draw();
				window.setTimeout(remove, 1500);
			} catch (e) {
				fail(e);
			}
		}

		if (file.size > MAX_UPLOAD) {
			phase = 'error';
			draw(t('chat.fileTooLarge', { max: fmtSize(MAX_UPLOAD) }));
			return;
		}
		if (file.size === 0) {
			phase = 'error';
			draw(t('chat.fileEmpty'));
			return;
		}
		draw();
		void (async () => {
			try {
				const start = await api('post', '/api/v1/conversations/{id}/uploads', {
					path: { id: conv },
					body: { name: file.name.slice(0, 255) || 'file', size: file.size },
				});
				uploadId = String(start.upload_id);
				const chunk = Math.max(1, Math.min(start.chunk_max || DEFAULT_CHUNK, 16 * 1024 * 1024));
				while (sent < file.size) {
					if (ctl.signal.aborted) throw new Error('cancelled');
					const part = file.slice(sent, Math.min(file.size, sent + chunk));
					let r: { received: number };
					try {
						r = await putUploadChunk(uploadId, sent, part, ctl.signal);
					} catch (e) {
						if (!(e instanceof ApiError && e.code === 'network') || ctl.signal.aborted) throw e;
						r = await putUploadChunk(uploadId, sent, part, ctl.signal); /* one retry */
					}
					const next = typeof r?.received === 'number' ? r.received : sent + part.size;
					if (next <= sent || next > file.size) throw new ApiError(409, 'conflict', 'upload offset mismatch', null);
					sent = next;
					draw();
				}
				await finish();
			} catch (e) {
				fail(e);
			}
		})();
	}

	return { el, add };
}
