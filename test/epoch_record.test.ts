import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epochLine, formatMetric, logsOf, type TrainEpoch } from '../src/train/epoch_record';

const record: TrainEpoch = { epoch: 2, loss: 0.5, acc: 0.7, val_loss: 0.6, val_acc: 0.6, lr: 0.001, seconds: 75 };

test('logsOf: the metrics of a record, in order, without epoch and seconds', () => {
  assert.deepEqual(logsOf(record), { loss: 0.5, acc: 0.7, val_loss: 0.6, val_acc: 0.6, lr: 0.001 });
  assert.deepEqual(Object.keys(logsOf(record)), ['loss', 'acc', 'val_loss', 'val_acc', 'lr']);
});

test('epochLine: one readable line per epoch, the duration as progress lines write it', () => {
  assert.equal(
    epochLine('CNN', record, 40),
    '[CNN] epoch 2/40  loss 0.5000  acc 0.7000  val_loss 0.6000  val_acc 0.6000  lr 0.0010  (1m15s)',
  );
  assert.equal(epochLine('', { epoch: 1, seconds: 1.5, loss: 1e-5, acc: undefined }), 'epoch 1  loss 1.00e-5  (2s)');
});

test('formatMetric: four decimals, exponent form at the extremes, a dash when missing', () => {
  assert.equal(formatMetric(0.12345), '0.1235');
  assert.equal(formatMetric(2e5), '2.00e+5');
  assert.equal(formatMetric(undefined), '—');
  assert.equal(formatMetric(NaN), '—');
});
