# R's forecast package on a directory of series: the yardstick for `surge forecast eval`.
#
#   Rscript tools/forecast-reference/reference.R export DIR   # write R's own classic series (datasets package) as CSV
#   Rscript tools/forecast-reference/reference.R score DIR    # write DIR/reference_accuracy.csv for every DIR/*.csv
#
# Needs Debian's r-base-core and r-cran-forecast (forecast 8.20). The split is Surge's: the last two seasonal
# cycles are the test part. Columns as in ../shared/data/forecast-benchmarks/reference_accuracy.csv.
suppressMessages(library(forecast))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 2 || !(args[1] %in% c("export", "score"))) {
  stop("usage: reference.R export|score DIR")
}
dir <- args[2]
dir.create(dir, showWarnings = FALSE, recursive = TRUE)

period_label <- function(x) {
  t <- time(x)
  f <- frequency(x)
  y <- floor(t + 1e-9)
  k <- round((t - y) * f) + 1
  if (f == 4) sprintf("%d-Q%d", y, k) else sprintf("%d-%02d", y, k)
}

if (args[1] == "export") {
  # Monthly and quarterly series shipped with R (datasets package) that are not among the shared files.
  seatbelts <- datasets::Seatbelts
  series <- list(
    nottem = datasets::nottem, UKDriverDeaths = datasets::UKDriverDeaths, ldeaths = datasets::ldeaths,
    mdeaths = datasets::mdeaths, fdeaths = datasets::fdeaths, co2 = datasets::co2, UKgas = datasets::UKgas,
    USAccDeaths = datasets::USAccDeaths, JohnsonJohnson = datasets::JohnsonJohnson, austres = datasets::austres,
    SeatbeltsFront = seatbelts[, "front"], SeatbeltsRear = seatbelts[, "rear"], SeatbeltsVans = seatbelts[, "VanKilled"])
  for (name in names(series)) {
    x <- series[[name]]
    write.csv(data.frame(period = period_label(x), value = as.numeric(x)), file.path(dir, paste0(name, ".csv")),
              row.names = FALSE, quote = FALSE)
  }
  quit(save = "no")
}

read_series <- function(path) {
  d <- read.csv(path, stringsAsFactors = FALSE)
  names(d) <- tolower(names(d))
  if ("ds" %in% names(d)) d <- data.frame(period = substr(d$ds, 1, 7), value = d$y)
  first <- d$period[1]
  if (grepl("Q", first)) {
    ts(d$value, start = c(as.integer(substr(first, 1, 4)), as.integer(substr(first, 7, 7))), frequency = 4)
  } else {
    ts(d$value, start = c(as.integer(substr(first, 1, 4)), as.integer(substr(first, 6, 7))), frequency = 12)
  }
}

rows <- list()
files <- sort(list.files(dir, pattern = "\\.csv$", full.names = TRUE))
files <- files[!(basename(files) %in% c("reference_accuracy.csv", "reference_forecasts.csv"))]
for (path in files) {
  name <- sub("\\.csv$", "", basename(path))
  y <- read_series(path)
  m <- frequency(y)
  h <- 2 * m
  n <- length(y)
  train <- subset(y, end = n - h)
  test <- as.numeric(subset(y, start = n - h + 1))
  scale <- mean(abs(diff(as.numeric(train), lag = m)))
  fits <- list(
    ets = function() { f <- ets(train, ic = "aicc"); list(spec = f$method, fc = forecast(f, h = h, level = c(80, 95))) },
    auto.arima = function() { f <- auto.arima(train); list(spec = as.character(f), fc = forecast(f, h = h, level = c(80, 95))) },
    snaive = function() list(spec = "SNAIVE", fc = snaive(train, h = h, level = c(80, 95))))
  for (model in names(fits)) {
    r <- fits[[model]]()
    f <- as.numeric(r$fc$mean)
    e <- test - f
    lo <- r$fc$lower
    hi <- r$fc$upper
    rows[[length(rows) + 1]] <- data.frame(
      series = name, frequency = m, n_train = length(train), n_test = h, train_end = tail(period_label(train), 1),
      model = model, model_spec = r$spec, MASE = mean(abs(e)) / scale, RMSE = sqrt(mean(e^2)),
      sMAPE = mean(ifelse(abs(test) + abs(f) == 0, 0, 200 * abs(e) / (abs(test) + abs(f)))),
      coverage80 = mean(test >= lo[, 1] & test <= hi[, 1]), coverage95 = mean(test >= lo[, 2] & test <= hi[, 2]))
  }
}
write.csv(do.call(rbind, rows), file.path(dir, "reference_accuracy.csv"), row.names = FALSE)
