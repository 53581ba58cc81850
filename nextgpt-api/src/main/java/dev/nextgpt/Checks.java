package dev.nextgpt;

/** Range checks shared by the option records; every message names the field and the offending value. */
final class Checks {
    private Checks() {
    }

    static int intRange(String field, int value, int min, int max) {
        if (value < min || value > max) {
            throw new InvalidInputException(field + " must be in [" + min + ", " + max + "], got " + value);
        }
        return value;
    }

    /** {@code min < value <= max} when {@code minExclusive}, else {@code min <= value <= max}; NaN is rejected. */
    static double doubleRange(String field, double value, double min, boolean minExclusive, double max) {
        boolean ok = minExclusive ? value > min : value >= min;
        if (!ok || !(value <= max)) {
            throw new InvalidInputException(field + " must be in " + (minExclusive ? "(" : "[") + min + ", " + max
                    + "], got " + value);
        }
        return value;
    }

    static Integer multipleOf8(String field, Integer value, int max) {
        if (value == null) {
            return null;
        }
        if (value < 8 || value > max || value % 8 != 0) {
            throw new InvalidInputException(field + " must be a multiple of 8 in [8, " + max + "] (or null for the "
                    + "decoder default), got " + value);
        }
        return value;
    }

    static <T> T notNull(String field, T value) {
        if (value == null) {
            throw new InvalidInputException(field + " must not be null");
        }
        return value;
    }
}
