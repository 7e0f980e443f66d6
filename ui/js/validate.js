// The declaration rules of Sources/CheckpointCore/Queue/Declaration.swift, checked in the page too (the daemon
// stays the authority). Each rule returns an error code from the API's list, or null.
export const SYMPTOMS = ["fever", "cough", "breathless", "pneumonia", "sore-throat", "tired"];
export const GENDERS = ["Nam", "Nu", "Khac"];
export const ERROR_CODES = ["required", "type", "empty", "too-long", "out-of-range", "invalid-choice", "invalid-phone",
  "invalid-email", "invalid-characters", "unknown-field", "consent-required"];

const len = (s) => Array.from(s).length;

function text(v, max, required) {
  if (v === undefined || v === null || v === "") return required ? "required" : null;
  if (typeof v !== "string") return "type";
  if (v.trim() === "") return required ? "empty" : null;
  if (len(v) > max) return "too-long";
  return null;
}

export function isVietnamesePhone(s) {
  let d;
  if (s.startsWith("+84")) d = s.slice(3); else if (s.startsWith("0")) d = s.slice(1); else return false;
  return /^[0-9]{9,10}$/.test(d);
}

/** Checks one field of the declaration body; returns an error code or null. */
export function checkField(name, v, currentYear = new Date().getFullYear()) {
  switch (name) {
    case "fullName": return text(v, 255, true);
    case "birthYear":
      if (v === undefined || v === null || v === "") return "required";
      if (!Number.isInteger(v)) return "type";
      return v < 1900 || v > currentYear ? "out-of-range" : null;
    case "gender": return v ? (GENDERS.includes(v) ? null : "invalid-choice") : "required";
    case "nation": return text(v, 64, true);
    case "provinceId": case "wardId": return text(v, 32, true);
    case "districtId": return text(v, 32, false);
    case "address": return text(v, 255, true);
    case "phone": {
      const e = text(v, 16, true);
      return e || (isVietnamesePhone(v.trim()) ? null : "invalid-phone");
    }
    case "hasPatient": case "hasFromSickCountry": case "hasSick":
      if (v === undefined || v === null) return "required";
      return v === 1 || v === 2 ? null : "invalid-choice";
    case "passport": {
      const e = text(v, 20, false);
      if (e || !v) return e;
      return /^[A-Za-z0-9]+$/.test(v.trim()) ? null : "invalid-characters";
    }
    case "email": {
      const e = text(v, 255, false);
      if (e || !v) return e;
      const parts = v.trim().split("@");
      return parts.length === 2 && parts[0] !== "" && parts[1].includes(".") ? null : "invalid-email";
    }
    case "countryPassing": case "symptomsNote": return v ? (len(v) > 1000 ? "too-long" : null) : null;
    case "symptoms":
      if (v === undefined) return null;
      if (!Array.isArray(v)) return "type";
      return v.every((s) => SYMPTOMS.includes(s)) ? null : "invalid-choice";
    case "otherUser": return v === undefined || typeof v === "boolean" ? null : "type";
    case "consent": return v === true ? null : "consent-required";
    default: return null;
  }
}
