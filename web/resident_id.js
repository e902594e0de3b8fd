// resident_id.js - the 18-character resident ID (GB 11643-1999) checked
// before it is sent, as lib/src/resident_id.c checks it: 17 digits, then
// the ISO 7064 MOD 11-2 check character ('0'-'9' or 'X').

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

export function checkDigit(first17) {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i];
  return CHECK[sum % 11];
}

// Returns null when id is well formed, else a reason (Chinese and English).
export function residentIdProblem(id) {
  if (!/^[0-9]{17}[0-9X]$/.test(id))
    return '身份证号应为17位数字加1位数字或X · 18 characters: 17 digits then a digit or X';
  const month = Number(id.slice(10, 12));
  const day = Number(id.slice(12, 14));
  if (month < 1 || month > 12 || day < 1 || day > 31)
    return '出生日期无效 · the birth date is not a real date';
  const expected = checkDigit(id);
  if (id[17] !== expected)
    return `校验位应为 ${expected}，不是 ${id[17]} · check digit should be ${expected}, not ${id[17]}`;
  return null;
}
