// vite.config.ts — builds the single-page client into web/dist/, which the
// server serves under a strict CSP (script-src 'self'; style-src 'self'):
// no inline script (module-preload polyfill off), no inlined assets, CSS in
// a file, content-hashed names for long-lived caching.
import { defineConfig } from 'vite';

export default defineConfig({
	base: '/',
	build: {
		outDir: 'dist',
		emptyOutDir: true,
		target: 'es2022',
		modulePreload: { polyfill: false },
		assetsInlineLimit: 0,
		cssCodeSplit: false,
		sourcemap: false,
		reportCompressedSize: false,
		rollupOptions: {
			output: {
				entryFileNames: 'assets/[name]-[hash].js',
				chunkFileNames: 'assets/[name]-[hash].js',
				assetFileNames: 'assets/[name]-[hash][extname]',
			},
		},
	},
	server: {
		// `npm run dev` talks to a local server for /api (its certificate is
		// usually self-signed, hence secure: false for this dev proxy only).
		proxy: {
			'/api': { target: 'https://127.0.0.1:8443', changeOrigin: false, secure: false, ws: true },
		},
	},
});
