internal static class X{}
