internal static class Z{}
