// What a school teaches: levels (grades, subjects, electives per student), subjects and the naming of
// courses and sections ("ELA 6", "ELA 6 (6A ELA)") that the generator uses.

export type Level = "middle" | "elementary" | "high";

export interface Subject {
  name: string;
  short: string;
  code: string;
  core: boolean;
}

export const SUBJECTS: Record<string, Subject> = {
  ela: { name: "English Language Arts", short: "ELA", code: "ELA", core: true },
  math: { name: "Mathematics", short: "Math", code: "MATH", core: true },
  science: { name: "Science", short: "Sci", code: "SCI", core: true },
  social: { name: "Social Studies", short: "SS", code: "SS", core: true },
  art: { name: "Art", short: "Art", code: "ART", core: false },
  music: { name: "Music", short: "Mus", code: "MUS", core: false },
  pe: { name: "Physical Education", short: "PE", code: "PE", core: false },
  spanish: { name: "Spanish", short: "Span", code: "SPAN", core: false },
  cs: { name: "Computer Science", short: "CS", code: "CS", core: false },
};

export const COURSE_TITLE: Record<string, string> = {
  ela: "ELA",
  math: "Math",
  science: "Science",
  social: "Social Studies",
  art: "Art",
  music: "Music",
  pe: "PE",
  spanish: "Spanish",
  cs: "Computer Science",
};

export const LEVELS: Record<
  Level,
  { grades: string[]; subjects: string[]; electivesPerStudent: number; label: string }
> = {
  middle: {
    grades: ["06", "07", "08"],
    subjects: ["ela", "math", "science", "social", "art", "music", "pe", "spanish"],
    electivesPerStudent: 2,
    label: "Middle School",
  },
  elementary: {
    grades: ["KG", "01", "02", "03", "04", "05"],
    subjects: ["ela", "math", "science", "social", "art", "music", "pe"],
    electivesPerStudent: 3,
    label: "Elementary School",
  },
  high: {
    grades: ["09", "10", "11", "12"],
    subjects: ["ela", "math", "science", "social", "art", "music", "pe", "spanish", "cs"],
    electivesPerStudent: 2,
    label: "High School",
  },
};

export const LEVEL_ORDER: Level[] = ["middle", "elementary", "high"];
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** "06" → "6", "KG" → "K". */
export function gradeLabel(grade: string): string {
  return grade === "KG" ? "K" : String(Number(grade));
}

/** Section letters: the second section shares the first one's letter (and so its title). */
export function sectionLetter(k: number): string {
  if (k <= 1) {
    return "A";
  }
  const i = k - 1;
  return i < LETTERS.length
    ? LETTERS[i]!
    : `${LETTERS[i % LETTERS.length]}${Math.floor(i / LETTERS.length) + 1}`;
}
