import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  NUM_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS, UNK_ID, Vocabulary, chooseMaxLength, encodeBatch, encodeFields,
  fractionUntruncated, joinedLength, tokenizeFields, tokenizeText,
} from '../src/text/tokenizer';

test('tokenizeText lower-cases, drops punctuation and splits glued words and letter/digit runs', () => {
  assert.deepEqual(tokenizeText("Women's mountain bike bossGood condition!! Wheels 26inch, £50 ONO"), [
    'women', 'mountain', 'bike', 'boss', 'good', 'condition', 'wheels', '26', 'inch', '50', 'ono',
  ]);
  assert.deepEqual(tokenizeText("Don't miss: PS4 + 2.5kg iPhone"), ['dont', 'miss', 'ps', '4', '2', '5', 'kg', 'iphone']);
  assert.deepEqual(tokenizeText('Café — crème brûlée'), ['café', 'crème', 'brûlée']);
  assert.deepEqual(tokenizeText('  ...  '), []);
  assert.throws(() => tokenizeText(undefined as unknown as string), /expected a string/);
});

test('tokenizeFields keeps title and description apart; joinedLength counts the separator', () => {
  const t = tokenizeFields({ title: 'Oak table', description: 'Solid oak. Seats 6' });
  assert.deepEqual(t, { title: ['oak', 'table'], description: ['solid', 'oak', 'seats', '6'] });
  assert.equal(joinedLength(t), 7);
});

test('Vocabulary: special tokens first, then by count (ties by code point), min count applied', () => {
  const docs = [['b', 'a', 'c', '7'], ['a', 'b', 'd'], ['a', 'e', 'e', '7']];
  const v = Vocabulary.fit(docs, { minCount: 2 });
  assert.deepEqual(v.tokens, [...SPECIAL_TOKENS, 'a', '7', 'b', 'e']);
  assert.deepEqual(v.counts.slice(4), [3, 2, 2, 2]);
  assert.equal(v.id('a'), 4);
  assert.equal(v.id('zzz'), UNK_ID);
  assert.equal(v.id('1234'), NUM_ID, 'an unseen number is <num>, not <unk>');
  assert.equal(v.id('7'), 5, 'a frequent number keeps its own id');
  assert.equal(v.token(4), 'a');
  assert.throws(() => v.token(99), /no token with id 99/);
  const capped = Vocabulary.fit(docs, { minCount: 1, maxSize: 2 });
  assert.deepEqual(capped.tokens.slice(4), ['a', '7']);
  assert.throws(() => Vocabulary.fit(docs, { minCount: 0 }), /minCount must be an integer >= 1/);
});

test('Vocabulary round-trips through JSON and hashes its token list', () => {
  const v = Vocabulary.fit([['x', 'y', 'x']], { minCount: 1 });
  const back = Vocabulary.fromJSON(JSON.parse(JSON.stringify(v.toJSON())));
  assert.deepEqual(back.tokens, v.tokens);
  assert.equal(back.hash(), v.hash());
  assert.match(v.hash(), /^[0-9a-f]{8}$/);
  assert.notEqual(Vocabulary.fit([['x', 'z', 'x']], { minCount: 1 }).hash(), v.hash());
  assert.throws(() => Vocabulary.fromJSON({ tokens: ['a'], counts: [0], minCount: 1 }), /token 0 must be <pad>/);
});

test('tokenCoverage counts known, number and unknown tokens', () => {
  const v = Vocabulary.fit([['a', 'b', 'a', 'b']], { minCount: 2 });
  assert.deepEqual(v.tokenCoverage([['a', 'q', '5'], ['b']]), { tokens: 4, known: 2, numbers: 1, unknown: 1, fraction: 0.5 });
});

test('encodeFields writes title, <sep>, description, then pads; truncation cuts the description end', () => {
  const v = Vocabulary.fit([['oak', 'table', 'solid', 'oak', 'table', 'solid']], { minCount: 1 });
  const text = { title: ['oak', 'table'], description: ['solid', 'pine', '9'] };
  const ids = Array.from(encodeFields(v, text, 8));
  assert.deepEqual(ids, [v.id('oak'), v.id('table'), SEP_ID, v.id('solid'), UNK_ID, NUM_ID, PAD_ID, PAD_ID]);
  assert.deepEqual(Array.from(encodeFields(v, text, 4)), [v.id('oak'), v.id('table'), SEP_ID, v.id('solid')]);
  assert.deepEqual(Array.from(encodeFields(v, text, 8, 2)).slice(0, 6), [v.id('oak'), v.id('table'), SEP_ID, v.id('oak'), v.id('table'), SEP_ID]);
  const batch = encodeBatch(v, [text, { title: [], description: [] }], 5);
  assert.equal(batch.length, 10);
  assert.deepEqual(Array.from(batch.subarray(5)), [SEP_ID, 0, 0, 0, 0]);
  assert.throws(() => encodeFields(v, text, 0), /maxLength must be a positive integer/);
});

test('chooseMaxLength takes a quantile, rounds up to a multiple and clamps', () => {
  const lengths = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
  assert.equal(chooseMaxLength(lengths, { quantile: 0.9, multiple: 16 }), 96);
  assert.equal(chooseMaxLength(lengths, { quantile: 0.95, multiple: 16 }), 96);
  assert.equal(chooseMaxLength(lengths, { quantile: 0.99, multiple: 16, maxLength: 64 }), 64);
  assert.equal(chooseMaxLength([1, 1, 2], { multiple: 8 }), 8);
  assert.equal(fractionUntruncated(lengths, 90), 0.9);
  assert.throws(() => chooseMaxLength([]), /no lengths/);
});
