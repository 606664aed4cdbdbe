internal static class Y{}
