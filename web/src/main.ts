// main.ts — entry point of the Bulwark web client (WC-UI).
import './styles.css';
import { boot } from './app';

void boot();
