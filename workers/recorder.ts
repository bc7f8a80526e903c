/**
 * Worker entry point of a recording (a file:// push): src/recording/recorder.ts. One thread per
 * active recording, so a slow or failing disk blocks nothing but itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runRecorder, type RecorderInit } from '../src/recording/recorder.js';

if (parentPort === null) throw new Error('workers/recorder.js runs as a worker thread');
runRecorder(workerData as RecorderInit, parentPort);
