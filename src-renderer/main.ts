/** Entry: global styles, then the app. Everything else lives in App.svelte and below. */
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { forgetTokenInUrl } from './lib/api.ts';

forgetTokenInUrl();
const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
mount(App, { target });
